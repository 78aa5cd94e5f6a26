import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchQueues } from '../shared/queueLocator';
import { singleResource } from '../shared/resource';
import { withPriorityName } from '../shared/taskPolicy';
import { router } from './actions/router';
import * as schedule from './actions/schedule';
import { searchSchedules } from './actions/schedule/scheduleLocator';
import { getTimeZones } from './actions/schedule/timeZones';

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
		// 1.1: a friendly trigger interval by default (cron stays one choice), time zones from a list,
		// Preview Next Runs previews the rule before it is saved, next runs shown over the output;
		// task policy as in Enqueue Task 1.1 (inherited unless set, a "Retry" section, class names).
		version: [1, 1.1],
		defaultVersion: 1.1,
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

	methods = { listSearch: { searchQueues, searchSchedules }, loadOptions: { getTimeZones } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const output = await router.call(this);
		if (this.getNode().typeVersion < 1.1) return output;
		// The engine's `priority` (of a schedule, or of the task Run Now made) is an integer; the node
		// speaks of the classes its form offers.
		return output.map((items) => items.map((item) => ({ ...item, json: withPriorityName(item.json) })));
	}
}
