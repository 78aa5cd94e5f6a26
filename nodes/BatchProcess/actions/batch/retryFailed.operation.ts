import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { pathSegment, requiredString } from '../../../shared/parameters';
import { engineRequest } from '../../../shared/transport';
import { batchIdProperty } from './batchId';

const properties: INodeProperties[] = [batchIdProperty];

export const description = updateDisplayOptions({ show: { resource: ['batch'], operation: ['retryFailed'] } }, properties);

/** Runs only the failed chunks again; the completion callback is sent again afterwards. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const batchId = requiredString.call(this, 'batchId', 'Batch ID', itemIndex);
		return await engineRequest(this, { method: 'POST', path: `/v1/batches/${pathSegment(batchId)}/retry-failed`, itemIndex });
	});
}
