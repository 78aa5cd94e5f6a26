import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';
import { engineRequest } from '../../../shared/transport';

const properties: INodeProperties[] = [
	queueLocator({ required: false, description: 'Only dead letters of this queue; leave empty for all queues' }),
];

export const description = updateDisplayOptions(
	{ show: { resource: ['deadLetter'], operation: ['getAll'] } },
	properties,
);

/**
 * Failed tasks grouped by cause (error signature), one output item per group with its count,
 * first and last time and the newest task IDs.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const { groups } = await engineRequest<{ groups: IDataObject[] }>(this, {
			method: 'GET',
			path: '/v1/dead-letters',
			qs: { queue: queueNameParameter.call(this, 'queue', itemIndex) },
			itemIndex,
		});
		return groups;
	});
}
