import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { pathSegment } from '../../../shared/parameters';
import { engineRequest } from '../../../shared/transport';
import { scheduleIdParameter, scheduleLocator } from './scheduleLocator';

const properties: INodeProperties[] = [scheduleLocator];

export const description = updateDisplayOptions({ show: { resource: ['schedule'], operation: ['pause'] } }, properties);

/** Stops the schedule firing until it is resumed. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const id = await scheduleIdParameter.call(this, itemIndex);
		return await engineRequest(this, { method: 'POST', path: `/v1/schedules/${pathSegment(id)}/pause`, itemIndex });
	});
}
