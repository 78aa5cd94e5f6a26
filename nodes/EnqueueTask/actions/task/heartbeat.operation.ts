import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { postReport, runReport, taskSourceProperties } from './attemptReport';

const properties: INodeProperties[] = [
	{
		displayName:
			'Place it between the long steps of a run whose Task Trigger finishes "With a Complete/Fail Step": it shows progress on the task and moves its deadline, so the engine knows the run is alive. Its input items pass through unchanged.',
		name: 'heartbeatNotice',
		type: 'notice',
		default: '',
	},
	...taskSourceProperties('Report on'),
	{
		displayName: 'Progress',
		name: 'progress',
		type: 'collection',
		placeholder: 'Add Progress Field',
		default: {},
		description: 'Shown on the task (progress) while it runs',
		options: [
			{
				displayName: 'Message',
				name: 'message',
				type: 'string',
				default: '',
				placeholder: 'e.g. Summarised {{ $runIndex + 1 }} of 10 chapters',
			},
			{
				displayName: 'Percent',
				name: 'percent',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100 },
				default: 0,
				description: 'How far the work is, from 0 to 100',
			},
		],
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Next Deadline In (Seconds)',
				name: 'extendSeconds',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 86400 },
				default: 3600,
				description:
					"The attempt's deadline becomes now plus this: without a report or another heartbeat by then, the attempt ends as timed out and the task is retried. A short one with regular heartbeats notices a stopped run early. Not set: the async timeout (the task's or queue's, else 1 hour). No effect while the engine waits for the workflow.",
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['task'], operation: ['heartbeat'] } }, properties);

function heartbeatBody(this: IExecuteFunctions, itemIndex: number): IDataObject {
	const body: IDataObject = {};
	const progress = this.getNodeParameter('progress', itemIndex, {}) as IDataObject;
	const reported: IDataObject = {};
	if (progress.percent !== undefined) reported.percent = progress.percent;
	if (typeof progress.message === 'string' && progress.message !== '') reported.message = progress.message;
	if (Object.keys(reported).length > 0) body.progress = reported;
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	if (options.extendSeconds !== undefined) body.extendSeconds = options.extendSeconds;
	return body;
}

/** Records progress and moves the deadline; outputs its input items as they came. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runReport.call(
		this,
		items,
		async (attempt, itemIndex) => await postReport.call(this, 'heartbeat', attempt, heartbeatBody.call(this, itemIndex), itemIndex),
		'inputItems',
	);
}
