import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchQueues } from '../shared/queueLocator';
import * as deadLetter from './actions/deadLetter';
import { searchDeadLetterGroups } from './actions/deadLetter/deadLetterGroupLocator';
import * as queue from './actions/queue';
import { router } from './actions/router';

/**
 * Queue Health: what an operator watches — backlog, stuck tasks, failures, lateness, handlers —
 * with a status from thresholds, and the dead letters with a way to redrive them.
 */
export class QueueHealth implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Queue Health',
		name: 'queueHealth',
		icon: { light: 'file:queueHealth.svg', dark: 'file:queueHealth.dark.svg' },
		group: ['input'],
		// 1.1: Redrive picks a dead-letter group from a list (or takes one by signature).
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Watch background task queues: health status from thresholds, dead letters and redrive',
		defaults: { name: 'Queue Health' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'backgroundTasksApi', required: true }],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Dead Letter', value: 'deadLetter' },
					{ name: 'Queue', value: 'queue' },
				],
				default: 'queue',
			},
			...queue.description,
			...deadLetter.description,
		],
	};

	methods = { listSearch: { searchQueues, searchDeadLetterGroups } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
