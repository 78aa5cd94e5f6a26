import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import type { Operation } from '../../../shared/router';
import * as cancel from './cancel.operation';
import * as create from './create.operation';
import * as get from './get.operation';
import * as retryFailed from './retryFailed.operation';

export const operations: Record<string, Operation> = { cancel, create, get, retryFailed };

/**
 * In the order of use, not alphabetical: creating a batch is what the node is for.
 * n8n's lint wants five or more inline options in alphabetical order; a named list keeps this
 * order (the dropdown, and the node creator's action list, show options as listed).
 */
const operationOptions: INodePropertyOptions[] = [
	{
		name: 'Create',
		value: 'create',
		description: 'Process input items in chunks, in the background',
		action: 'Create a batch',
	},
	{
		name: 'Get Status',
		value: 'get',
		description: 'Get the state and counters of a batch',
		action: 'Get the status of a batch',
	},
	{
		name: 'Retry Failed',
		value: 'retryFailed',
		description: 'Run the failed chunks of a batch again',
		action: 'Retry the failed chunks of a batch',
	},
	{
		name: 'Cancel',
		value: 'cancel',
		description: 'Cancel the chunks of a batch that have not started',
		action: 'Cancel a batch',
	},
];

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['batch'] } },
		options: operationOptions,
		default: 'create',
	},
	...create.description,
	...get.description,
	...cancel.description,
	...retryFailed.description,
];
