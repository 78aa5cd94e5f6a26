import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchQueues } from '../shared/queueLocator';
import { singleResource } from '../shared/resource';
import { router } from './actions/router';
import * as batch from './actions/batch';

/**
 * Batch Process: turns many items into one batch the engine delivers in chunks, with concurrency,
 * pacing, retries, live counters and a completion callback.
 */
export class BatchProcess implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Batch Process',
		name: 'batchProcess',
		icon: { light: 'file:batchProcess.svg', dark: 'file:batchProcess.dark.svg' },
		group: ['output'],
		// 1.1: "Wait Until Finished" on top with its timeout below it, policy fields inherit unless
		// set, a "Retry" section.
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Process large sets of items in the background in chunks, with progress, cancel and retry',
		defaults: { name: 'Batch Process' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'backgroundTasksApi', required: true }],
		properties: [
			singleResource('Batch', 'batch'),
			...batch.description,
		],
	};

	methods = { listSearch: { searchQueues } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
