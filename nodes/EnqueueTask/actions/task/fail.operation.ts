import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { requiredString } from '../../../shared/parameters';
import { durationSeconds, durationUnitOptions } from '../../../shared/time';
import { postReport, runReport, taskSourceProperties } from './attemptReport';

const properties: INodeProperties[] = [
	{
		displayName:
			'Fails the task that started the execution, and says what happens next: a retry by the task\'s policy, a dead letter now ("never": for errors a retry cannot fix, such as bad input), or a retry after a delay you choose (a rate limit that resets, a service back at a known time). Works in both Finish modes of the Task Trigger.',
		name: 'failNotice',
		type: 'notice',
		default: '',
	},
	...taskSourceProperties('Fail'),
	{
		displayName: 'Error Message',
		name: 'errorMessage',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. Address {{ $json.address }} not found',
		description: "Why the attempt failed: kept in the task's attempts and as its last error, and grouped by in dead letters",
	},
	{
		displayName: 'Retry',
		name: 'retryMode',
		type: 'options',
		options: [
			{
				name: 'By Policy',
				value: 'policy',
				description: "Retry with the task's backoff; a dead letter once its attempts are used up",
			},
			{ name: 'Never', value: 'never', description: 'A dead letter now, whatever attempts are left (redrivable later)' },
			{
				name: 'After a Delay',
				value: 'afterDelay',
				description: "Retry after exactly this long (no jitter), at most the policy's max delay (1 hour by default)",
			},
		],
		default: 'policy',
	},
	{
		displayName: 'Retry After',
		name: 'retryAfter',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 30,
		displayOptions: { show: { retryMode: ['afterDelay'] } },
	},
	{
		displayName: 'Retry After Unit',
		name: 'retryAfterUnit',
		type: 'options',
		options: durationUnitOptions,
		default: 'seconds',
		displayOptions: { show: { retryMode: ['afterDelay'] } },
	},
];

export const description = updateDisplayOptions({ show: { resource: ['task'], operation: ['fail'] } }, properties);

/** The engine's fail body for one item. */
function failBody(this: IExecuteFunctions, itemIndex: number): IDataObject {
	const body: IDataObject = { error: requiredString.call(this, 'errorMessage', 'Error Message', itemIndex) };
	const mode = this.getNodeParameter('retryMode', itemIndex) as string;
	if (mode === 'never') body.retry = false;
	if (mode === 'afterDelay') {
		const seconds = durationSeconds(
			this.getNodeParameter('retryAfter', itemIndex),
			this.getNodeParameter('retryAfterUnit', itemIndex) as string,
		);
		if (seconds === undefined) {
			throw new NodeOperationError(this.getNode(), 'Retry After must be a number of at least 0', { itemIndex });
		}
		body.retryAfterSeconds = seconds;
	}
	return body;
}

/** Fails the open attempt; outputs the task as the engine now has it (`retrying` or `failed`). */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runReport.call(
		this,
		items,
		async (attempt, itemIndex) => await postReport.call(this, 'fail', attempt, failBody.call(this, itemIndex), itemIndex),
		'task',
	);
}
