import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { engineRequest } from './transport';

/** The engine's list shape. */
interface Page {
	items: IDataObject[];
	nextCursor: string | null;
}

/** The engine's largest page. */
const MAX_PAGE_SIZE = 500;

/** "Return All" and "Limit", as every n8n list operation offers them. */
export const returnAllOrLimit: INodeProperties[] = [
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: false,
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
		displayOptions: { show: { returnAll: [false] } },
	},
];

/** Follows `nextCursor` until the list ends or, unless "Return All", the limit is reached. */
export async function listAll(
	this: IExecuteFunctions,
	path: string,
	qs: IDataObject,
	itemIndex: number,
): Promise<IDataObject[]> {
	const returnAll = this.getNodeParameter('returnAll', itemIndex, false) as boolean;
	const limit = returnAll ? Infinity : (this.getNodeParameter('limit', itemIndex, 50) as number);
	const results: IDataObject[] = [];
	let cursor: string | undefined;
	do {
		const page = await engineRequest<Page>(this, {
			method: 'GET',
			path,
			qs: { ...qs, limit: Math.min(MAX_PAGE_SIZE, limit - results.length), cursor },
			itemIndex,
		});
		results.push(...page.items.slice(0, limit - results.length));
		cursor = page.nextCursor ?? undefined;
	} while (cursor !== undefined && results.length < limit);
	return results;
}
