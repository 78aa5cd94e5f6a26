import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { pathSegment, requiredString } from '../../../shared/parameters';
import { engineRequest } from '../../../shared/transport';

const properties: INodeProperties[] = [
	{
		displayName: 'Task ID',
		name: 'taskId',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. 0195b3c4-7d2e-7f00-8a1b-2c3d4e5f6a7b',
		description: 'ID of the failed or cancelled task to run again',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['task'], operation: ['retry'] } }, properties);

/** Runs a failed or cancelled task again now, with a fresh attempt budget (409 for other states). */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const taskId = requiredString.call(this, 'taskId', 'Task ID', itemIndex);
		return await engineRequest(this, { method: 'POST', path: `/v1/tasks/${pathSegment(taskId)}/retry`, itemIndex });
	});
}
