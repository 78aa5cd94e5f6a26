import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { routeToOperation } from '../../shared/router';
import * as deadLetter from './deadLetter';
import * as queue from './queue';

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await routeToOperation.call(this, { deadLetter: deadLetter.operations, queue: queue.operations });
}
