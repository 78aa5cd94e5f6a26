import type {
	IDataObject,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeListSearchResult,
	INodeProperties,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { engineRequest } from '../../../shared/transport';

/** Which schedule an operation acts on: picked from a list, by its unique name, or by ID. */
export const scheduleLocator: INodeProperties = {
	displayName: 'Schedule',
	name: 'schedule',
	type: 'resourceLocator',
	default: { mode: 'list', value: '' },
	required: true,
	modes: [
		{
			displayName: 'From List',
			name: 'list',
			type: 'list',
			placeholder: 'Select a schedule...',
			typeOptions: { searchListMethod: 'searchSchedules', searchable: true },
		},
		{
			displayName: 'By Name',
			name: 'name',
			type: 'string',
			placeholder: 'e.g. nightly-report',
		},
		{
			displayName: 'By ID',
			name: 'id',
			type: 'string',
			placeholder: 'e.g. 0195b3c4-7d2e-7f00-8a1b-2c3d4e5f6a7b',
		},
	],
};

interface ScheduleList {
	items: Array<{ id: string; name: string; paused?: boolean }>;
	nextCursor: string | null;
}

/** The ID of the schedule chosen in the `schedule` parameter; a name is looked up in the engine. */
export async function scheduleIdParameter(this: IExecuteFunctions, itemIndex: number): Promise<string> {
	const locator = this.getNodeParameter('schedule', itemIndex) as IDataObject;
	const value = String(locator.value ?? '').trim();
	if (value === '') throw new NodeOperationError(this.getNode(), 'Schedule is required', { itemIndex });
	if (locator.mode !== 'name') return value;
	const schedule = await engineRequest<{ id: string }>(this, {
		method: 'GET',
		path: `/v1/schedules/by-name/${encodeURIComponent(value)}`,
		itemIndex,
	});
	return schedule.id;
}

/** `listSearch` method behind the "From List" mode. */
export async function searchSchedules(
	this: ILoadOptionsFunctions,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const page = await engineRequest<ScheduleList>(this, {
		method: 'GET',
		path: '/v1/schedules',
		qs: { limit: 100, cursor: paginationToken },
	});
	const needle = (filter ?? '').toLowerCase();
	return {
		results: page.items
			.filter((schedule) => schedule.name.toLowerCase().includes(needle))
			.map((schedule) => ({
				name: schedule.paused === true ? `${schedule.name} (paused)` : schedule.name,
				value: schedule.id,
			})),
		paginationToken: page.nextCursor ?? undefined,
	};
}
