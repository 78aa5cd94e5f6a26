import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchQueues } from '../shared/queueLocator';
import { singleResource } from '../shared/resource';
import { router } from './actions/router';
import * as schedule from './actions/schedule';
import { searchSchedules } from './actions/schedule/scheduleLocator';

/**
 * Schedule Task: cron or interval schedules kept by the engine, which fires each occurrence once
 * (even with several engines) and hands it to a queue as a task.
 */
export class ScheduleTask implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Schedule Task',
		name: 'scheduleTask',
		icon: { light: 'file:scheduleTask.svg', dark: 'file:scheduleTask.dark.svg' },
		group: ['output'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Run tasks on a cron or interval schedule that fires once per occurrence, and manage schedules',
		defaults: { name: 'Schedule Task' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'backgroundTasksApi', required: true }],
		properties: [
			singleResource('Schedule', 'schedule'),
			...schedule.description,
		],
	};

	methods = { listSearch: { searchQueues, searchSchedules } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
