import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { listAll, returnAllOrLimit } from '../../../shared/pagination';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';

const properties: INodeProperties[] = [
	...returnAllOrLimit,
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add filter',
		default: {},
		options: [
			queueLocator({ required: false, description: 'Only tasks of this queue' }),
			{
				displayName: 'State',
				name: 'state',
				type: 'options',
				options: [
					{ name: 'Active', value: 'active', description: 'Being delivered now' },
					{ name: 'Cancelled', value: 'cancelled' },
					{ name: 'Completed', value: 'completed' },
					{ name: 'Failed', value: 'failed', description: 'Attempts exhausted: a dead letter' },
					{ name: 'Queued', value: 'queued', description: 'Due and waiting for a handler' },
					{ name: 'Retrying', value: 'retrying', description: 'Waiting for its next attempt' },
					{ name: 'Scheduled', value: 'scheduled', description: 'Not due yet' },
				],
				default: 'queued',
			},
			{
				displayName: 'Task Name',
				name: 'name',
				type: 'string',
				default: '',
				placeholder: 'e.g. send-welcome-email',
				description: 'Only tasks of this type',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['task'], operation: ['getAll'] } }, properties);

/** Tasks, newest first, one output item per task. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const filters = this.getNodeParameter('filters', itemIndex, {}) as IDataObject;
		const qs: IDataObject = {
			queue: filters.queue === undefined ? undefined : queueNameParameter.call(this, 'filters.queue', itemIndex),
			state: filters.state,
			name: typeof filters.name === 'string' ? filters.name.trim() : undefined,
		};
		return await listAll.call(this, '/v1/tasks', qs, itemIndex);
	});
}
