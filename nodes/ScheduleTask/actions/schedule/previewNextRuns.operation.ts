import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { pathSegment } from '../../../shared/parameters';
import { engineRequest } from '../../../shared/transport';
import { scheduleIdParameter, scheduleLocator } from './scheduleLocator';

const properties: INodeProperties[] = [
	scheduleLocator,
	{
		displayName: 'Count',
		name: 'count',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100 },
		default: 10,
		description: 'How many upcoming fire times to show',
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['schedule'], operation: ['previewNextRuns'] } },
	properties,
);

/** The next fire times (UTC, ISO 8601), as the engine computes them in the schedule's time zone. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const id = await scheduleIdParameter.call(this, itemIndex);
		const { fireTimes } = await engineRequest<{ fireTimes: string[] }>(this, {
			method: 'GET',
			path: `/v1/schedules/${pathSegment(id)}/next`,
			qs: { count: this.getNodeParameter('count', itemIndex, 10) as number },
			itemIndex,
		});
		return { scheduleId: id, fireTimes };
	});
}
