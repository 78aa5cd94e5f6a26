import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import type { Operation } from '../../../shared/router';
import * as cancel from './cancel.operation';
import * as complete from './complete.operation';
import * as enqueue from './enqueue.operation';
import * as fail from './fail.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as heartbeat from './heartbeat.operation';
import * as retry from './retry.operation';

export const operations: Record<string, Operation> = { cancel, complete, enqueue, fail, get, getAll, heartbeat, retry };

/**
 * In the order of use, not alphabetical: enqueueing is what the node is for, then what a worker
 * workflow reports about its own task (Complete, Fail, Heartbeat), then managing tasks.
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
		name: 'Complete',
		value: 'complete',
		description: 'Report the task that started this workflow as done, with a result',
		action: 'Complete a task',
	},
	{
		name: 'Fail',
		value: 'fail',
		description: 'Report the task that started this workflow as failed: retry by policy, never, or after a delay',
		action: 'Fail a task',
	},
	{
		name: 'Heartbeat',
		value: 'heartbeat',
		description: 'Show progress of a long-running task and keep its attempt open',
		action: 'Send a heartbeat for a task',
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
	...complete.description,
	...fail.description,
	...heartbeat.description,
	...get.description,
	...getAll.description,
	...cancel.description,
	...retry.description,
];
