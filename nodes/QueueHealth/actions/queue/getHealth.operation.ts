import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { pathSegment } from '../../../shared/parameters';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';
import { engineRequest } from '../../../shared/transport';

const properties: INodeProperties[] = [
	{
		displayName: 'Queues',
		name: 'scope',
		type: 'options',
		options: [
			{ name: 'All Queues', value: 'all', description: 'One output item per queue' },
			{ name: 'One Queue', value: 'one' },
		],
		default: 'all',
	},
	queueLocator({ displayOptions: { show: { scope: ['one'] } } }),
	{
		displayName: 'Thresholds',
		name: 'thresholds',
		type: 'collection',
		placeholder: 'Add threshold',
		default: {},
		description:
			'A figure over its threshold makes the status "warning", twice the threshold "critical". Unset ones use the engine\'s defaults.',
		options: [
			{
				displayName: 'Max Dead Letters',
				name: 'maxDeadLetters',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Failed tasks waiting to be redriven',
			},
			{
				displayName: 'Max Failure Rate',
				name: 'maxFailureRate',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
				default: 0.1,
				description: 'Share of failed attempts in the window, from 0 to 1',
			},
			{
				displayName: 'Max Queued Age (Seconds)',
				name: 'maxQueuedAgeSeconds',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 300,
				description: 'How long the oldest due task may wait for a handler',
			},
			{
				displayName: 'Max Stuck Tasks',
				name: 'maxStuck',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Tasks active past their timeout',
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
				displayName: 'Only Queues Not OK',
				name: 'onlyNotOk',
				type: 'boolean',
				default: false,
				description:
					'Whether to output only queues whose status is "warning" or "critical", so the next node can alert on any output',
			},
			{
				displayName: 'Window (Seconds)',
				name: 'windowSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 3600,
				description: 'Period the completed and failed counts cover',
			},
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['queue'], operation: ['getHealth'] } },
	properties,
);

/** The health figures and status of one queue or of every queue, one output item per queue. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const thresholds = this.getNodeParameter('thresholds', itemIndex, {}) as IDataObject;
		const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
		const qs: IDataObject = { ...thresholds, windowSeconds: options.windowSeconds };

		let queues: IDataObject[];
		if (this.getNodeParameter('scope', itemIndex) === 'one') {
			const queue = queueNameParameter.call(this, 'queue', itemIndex);
			if (queue === '') throw new NodeOperationError(this.getNode(), 'Queue is required', { itemIndex });
			queues = [await engineRequest(this, { method: 'GET', path: `/v1/queues/${pathSegment(queue)}/health`, qs, itemIndex })];
		} else {
			const all = await engineRequest<{ queues: IDataObject[] }>(this, { method: 'GET', path: '/v1/health/queues', qs, itemIndex });
			queues = all.queues;
		}
		return options.onlyNotOk === true ? queues.filter((queue) => queue.status !== 'ok') : queues;
	});
}
