import type {
	IExecuteFunctions,
	IHookFunctions,
	ILoadOptionsFunctions,
	INodeListSearchResult,
	INodeProperties,
} from 'n8n-workflow';

import { engineRequest } from './transport';

/** The engine's rule for queue names, repeated here so a typo is caught before any request. */
const QUEUE_NAME_PATTERN = '^[A-Za-z0-9._-]{1,64}$';

/**
 * A queue picker: searchable list loaded from the engine, or a name typed in (or an expression).
 * Every node that targets a queue uses this one description so they look and behave alike.
 */
export function queueLocator(overrides: Partial<INodeProperties> = {}): INodeProperties {
	return {
		displayName: 'Queue',
		name: 'queue',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required: true,
		description: 'The queue of the engine',
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: 'Select a queue...',
				typeOptions: { searchListMethod: 'searchQueues', searchable: true },
			},
			{
				displayName: 'By Name',
				name: 'name',
				type: 'string',
				placeholder: 'e.g. emails',
				validation: [
					{
						type: 'regex',
						properties: {
							regex: QUEUE_NAME_PATTERN,
							errorMessage: 'Use 1–64 letters, digits, dots, underscores or hyphens',
						},
					},
				],
			},
		],
		...overrides,
	};
}

/** The queue name chosen in a `queueLocator` parameter ('' when an optional one is left empty). */
export function queueNameParameter(
	this: IExecuteFunctions | IHookFunctions,
	name: string,
	itemIndex?: number,
): string {
	const value =
		itemIndex === undefined
			? this.getNodeParameter(name, '', { extractValue: true })
			: this.getNodeParameter(name, itemIndex, '', { extractValue: true });
	return String(value ?? '').trim();
}

interface QueueList {
	items: Array<{ name: string; paused: boolean }>;
	nextCursor: string | null;
}

/** `listSearch` method behind the "From List" mode: one engine page per call, filtered by name. */
export async function searchQueues(
	this: ILoadOptionsFunctions,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const page = await engineRequest<QueueList>(this, {
		method: 'GET',
		path: '/v1/queues',
		qs: { limit: 100, cursor: paginationToken },
	});
	const needle = (filter ?? '').toLowerCase();
	return {
		results: page.items
			.filter((queue) => queue.name.toLowerCase().includes(needle))
			.map((queue) => ({ name: queue.paused ? `${queue.name} (paused)` : queue.name, value: queue.name })),
		paginationToken: page.nextCursor ?? undefined,
	};
}
