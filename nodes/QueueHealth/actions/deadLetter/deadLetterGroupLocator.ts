import type { IDataObject, IExecuteFunctions, ILoadOptionsFunctions, INodeListSearchResult, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { engineRequest } from '../../../shared/transport';

/**
 * A group of dead letters — the failed tasks of one queue with one error signature — picked from
 * the engine's list ("connection refused · invoices · 3 tasks"), or given as text for expressions.
 *
 * A group is its queue and its signature: the same cause in two queues is two groups, and the
 * value `<queue>/<signature>` says which. Queue names cannot hold "/", signatures are
 * `sig_` + 12 hex digits. A bare signature (what version 1 took) means that cause in every queue.
 */
export const deadLetterGroupLocator: INodeProperties = {
	displayName: 'Dead Letter Group',
	name: 'deadLetterGroup',
	type: 'resourceLocator',
	default: { mode: 'list', value: '' },
	required: true,
	description: 'Failed tasks of one queue that failed for the same reason',
	modes: [
		{
			displayName: 'From List',
			name: 'list',
			type: 'list',
			placeholder: 'Select a group of dead letters...',
			typeOptions: { searchListMethod: 'searchDeadLetterGroups', searchable: true },
		},
		{
			displayName: 'By Signature',
			name: 'signature',
			type: 'string',
			placeholder: 'e.g. {{ $json.queue }}/{{ $json.signature }}',
			hint: '<queue>/<signature> for one queue\'s group, or a bare signature (sig_…) for that error in every queue',
			validation: [
				{
					type: 'regex',
					properties: {
						regex: '^([A-Za-z0-9._-]{1,64}/)?sig_[0-9a-f]{12}$',
						errorMessage: 'Use <queue>/sig_ followed by 12 hex digits, or sig_… alone',
					},
				},
			],
		},
	],
};

interface DeadLetterGroup {
	signature: string;
	queue: string;
	statusCode: number | null;
	errorClass: string | null;
	message: string;
	count: number;
}

/** How a group reads in the list: its cause, its queue, how many tasks. */
export function groupLabel(group: DeadLetterGroup): string {
	const cause = group.message.trim() || (group.statusCode !== null ? `HTTP ${group.statusCode}` : group.errorClass ?? 'unknown error');
	const shortCause = cause.length > 60 ? `${cause.slice(0, 59)}…` : cause;
	return `${shortCause} · ${group.queue} · ${group.count} ${group.count === 1 ? 'task' : 'tasks'}`;
}

/** `listSearch` method behind "From List": every group of every queue, largest first, filtered by its label. */
export async function searchDeadLetterGroups(this: ILoadOptionsFunctions, filter?: string): Promise<INodeListSearchResult> {
	const { groups } = await engineRequest<{ groups: DeadLetterGroup[] }>(this, { method: 'GET', path: '/v1/dead-letters' });
	const needle = (filter ?? '').toLowerCase();
	return {
		results: groups
			.map((group) => ({ name: groupLabel(group), value: `${group.queue}/${group.signature}` }))
			.filter((result) => result.name.toLowerCase().includes(needle) || result.value.toLowerCase().includes(needle)),
	};
}

/** The engine's redrive selector for the chosen group: `{ queue, signature }`, or `{ signature }` alone. */
export function deadLetterGroupSelector(this: IExecuteFunctions, itemIndex: number): IDataObject {
	const value = String(this.getNodeParameter('deadLetterGroup', itemIndex, '', { extractValue: true }) ?? '').trim();
	if (value === '') throw new NodeOperationError(this.getNode(), 'Dead Letter Group is required', { itemIndex });
	const slash = value.lastIndexOf('/');
	return slash === -1 ? { signature: value } : { queue: value.slice(0, slash), signature: value.slice(slash + 1) };
}
