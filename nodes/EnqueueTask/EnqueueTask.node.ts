import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchQueues } from '../shared/queueLocator';
import { singleResource } from '../shared/resource';
import { withPriorityName } from '../shared/taskPolicy';
import { router } from './actions/router';
import * as task from './actions/task';

/** Enqueue Task: hands work to the Background Tasks engine, which delivers it with retries. */
export class EnqueueTask implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Enqueue Task',
		name: 'enqueueTask',
		icon: { light: 'file:enqueueTask.svg', dark: 'file:enqueueTask.dark.svg' },
		group: ['output'],
		// 1.1: policy fields inherit unless set, a "Retry" section, priorities output by class name.
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Run work in the background with retries, delays and priorities, and manage tasks',
		defaults: { name: 'Enqueue Task' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'backgroundTasksApi', required: true }],
		properties: [
			singleResource('Task', 'task'),
			...task.description,
		],
	};

	methods = { listSearch: { searchQueues } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const output = await router.call(this);
		// Heartbeat passes its input items through: they are the workflow's data, not tasks.
		if (this.getNode().typeVersion < 1.1 || this.getNodeParameter('operation', 0) === 'heartbeat') return output;
		// The engine's `priority` is an integer; the node speaks of the classes its form offers.
		return output.map((items) => items.map((item) => ({ ...item, json: withPriorityName(item.json) })));
	}
}
