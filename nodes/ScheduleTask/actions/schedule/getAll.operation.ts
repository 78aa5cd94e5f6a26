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
		options: [queueLocator({ required: false, description: 'Only schedules of this queue' })],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['schedule'], operation: ['getAll'] } }, properties);

/** Schedules in name order, one output item each. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const filters = this.getNodeParameter('filters', itemIndex, {}) as IDataObject;
		const qs: IDataObject = {
			queue: filters.queue === undefined ? undefined : queueNameParameter.call(this, 'filters.queue', itemIndex),
		};
		return await listAll.call(this, '/v1/schedules', qs, itemIndex);
	});
}
