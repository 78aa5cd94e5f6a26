import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import type { Operation } from '../../../shared/router';
import * as cancel from './cancel.operation';
import * as enqueue from './enqueue.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as retry from './retry.operation';

export const operations: Record<string, Operation> = { cancel, enqueue, get, getAll, retry };

/**
 * In the order of use, not alphabetical: enqueueing is what the node is for.
 * n8n's lint wants five or more inline options in alphabetical order; a named list keeps this
 * order (the dropdown, and the node creator's action list, show options as listed).
 */
const operationOptions: INodePropertyOptions[] = [
	{
		name: 'Enqueue',
		value: 'enqueue',
		description: 'Run work in the background: one task per input item',
		action: 'Enqueue a task',
	},
	{
		name: 'Get',
		value: 'get',
		description: 'Get a task with its attempt history',
		action: 'Get a task',
	},
	{
		name: 'Get Many',
		value: 'getAll',
		description: 'List tasks by queue, state and name',
		action: 'Get many tasks',
	},
	{
		name: 'Retry',
		value: 'retry',
		description: 'Run a failed or cancelled task again now',
		action: 'Retry a task',
	},
	{
		name: 'Cancel',
		value: 'cancel',
		description: 'Cancel a task that has not started',
		action: 'Cancel a task',
	},
];

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['task'] } },
		options: operationOptions,
		default: 'enqueue',
	},
	...enqueue.description,
	...get.description,
	...getAll.description,
	...cancel.description,
	...retry.description,
];
