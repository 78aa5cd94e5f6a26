import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { chunkForRequests, MAX_ITEMS_BYTES_PER_REQUEST } from '../../../shared/chunks';
import { asNodeError, errorItem, pairedWithAll, runPerItem } from '../../../shared/items';
import { jsonParameter, pathSegment, requiredString } from '../../../shared/parameters';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';
import {
	groupedTaskPolicyFields,
	priorityOption,
	retrySection,
	taskPolicyFields,
	taskPolicyOptions,
	timeoutOptions,
} from '../../../shared/taskPolicy';
import { engineRequest } from '../../../shared/transport';
import { shownFromVersion1_1, shownInVersion1 } from '../../../shared/versions';
import { waitForBatch } from './waitForBatch';

/** Items sent per request when a batch is uploaded in pages (fewer when they are large). */
const MAX_ITEMS_PER_PAGE = 10_000;

/** Options every version has, before the policy fields (in the order n8n sorts them). */
const batchOptions: INodeProperties[] = [
	{
		displayName: 'Callback URL',
		name: 'callbackUrl',
		type: 'string',
		default: '',
		placeholder: 'e.g. https://example.com/hooks/batch-done',
		description: 'Receives one signed request with the final counters when every chunk is done',
	},
	{
		displayName: 'Concurrency',
		name: 'concurrency',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 1,
		description: 'How many chunks may be delivered at the same time',
	},
	{
		displayName: 'Delay Between Chunks (Seconds)',
		name: 'delayBetweenChunksSeconds',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description: 'Pause between the starts of consecutive chunks, to spare the handler',
	},
	{
		displayName: 'Payload JSON',
		name: 'payload',
		type: 'json',
		default: '{}',
		description: 'An object whose fields every chunk receives in its payload next to <code>items</code>',
	},
];

const targetUrlOption: INodeProperties = {
	displayName: 'Target URL',
	name: 'targetUrl',
	type: 'string',
	default: '',
	placeholder: 'e.g. https://example.com/hooks/chunk',
	description: "Deliver the chunks to this URL instead of the queue's Task Triggers",
};

const WAIT_TIMEOUT_DESCRIPTION = 'How long to wait for the batch to finish before failing';

const properties: INodeProperties[] = [
	queueLocator({ description: "Queue the batch's chunks go to; its Task Trigger (or the target URL) receives them" }),
	{
		displayName: 'Task Name',
		name: 'taskName',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. import-contacts',
		description: 'Type of the chunk tasks; the handler receives it as <code>name</code>',
	},
	{
		displayName: 'Items',
		name: 'itemsSource',
		type: 'options',
		options: [
			{
				name: 'All Input Items',
				value: 'allItems',
				description: "One batch of all input items' JSON",
			},
			{
				name: 'An Array Field of Each Item',
				value: 'arrayField',
				description: 'One batch per input item, of the array in a field',
			},
		],
		default: 'allItems',
	},
	{
		displayName: 'Array Field',
		name: 'arrayField',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. contacts',
		description: 'Name of the field holding the array; use dots for nested fields (e.g. data.rows)',
		displayOptions: { show: { itemsSource: ['arrayField'] } },
	},
	{
		displayName: 'Chunk Size',
		name: 'chunkSize',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 10000 },
		default: 100,
		description: 'How many items each chunk task carries',
	},
	// Version 1: waiting is an option, and every policy field a loose option.
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: { show: shownInVersion1 },
		options: [
			...batchOptions,
			...taskPolicyOptions,
			targetUrlOption,
			{
				displayName: 'Wait Timeout (Seconds)',
				name: 'waitTimeoutSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 3600,
				description: WAIT_TIMEOUT_DESCRIPTION,
				displayOptions: { show: { waitUntilFinished: [true] } },
			},
			{
				displayName: 'Wait Until Finished',
				name: 'waitUntilFinished',
				type: 'boolean',
				default: false,
				description: 'Whether to wait for every chunk to finish and output the final counters',
			},
		],
	},
	// From 1.1: waiting is a choice of its own, with its timeout right below it, only when on.
	{
		displayName: 'Wait Until Finished',
		name: 'waitUntilFinished',
		type: 'boolean',
		default: false,
		description:
			'Whether to wait for every chunk to finish and output the final counters. Off: the node outputs the batch as soon as it is created.',
		displayOptions: { show: shownFromVersion1_1 },
	},
	{
		displayName: 'Wait Timeout (Seconds)',
		name: 'waitTimeoutSeconds',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 3600,
		description: `${WAIT_TIMEOUT_DESCRIPTION}; the batch keeps running in the engine`,
		displayOptions: { show: { ...shownFromVersion1_1, waitUntilFinished: [true] } },
	},
	{ ...retrySection('/options.priority'), displayOptions: { show: shownFromVersion1_1 } },
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: { show: shownFromVersion1_1 },
		options: [...batchOptions, priorityOption, targetUrlOption, ...timeoutOptions],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['batch'], operation: ['create'] } }, properties);

/** The batch fields other than its items. */
function batchFields(this: IExecuteFunctions, itemIndex: number): IDataObject {
	const queue = queueNameParameter.call(this, 'queue', itemIndex);
	if (queue === '') throw new NodeOperationError(this.getNode(), 'Queue is required', { itemIndex });
	const fields: IDataObject = {
		queue,
		name: requiredString.call(this, 'taskName', 'Task Name', itemIndex),
		chunkSize: this.getNodeParameter('chunkSize', itemIndex) as number,
	};
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	if (options.concurrency !== undefined) fields.concurrency = options.concurrency;
	if (options.delayBetweenChunksSeconds !== undefined) fields.delayBetweenChunksSeconds = options.delayBetweenChunksSeconds;
	if (options.payload !== undefined) fields.payload = jsonParameter.call(this, 'options.payload', 'Payload JSON', itemIndex) as IDataObject;
	for (const [option, field] of [
		['targetUrl', 'url'],
		['callbackUrl', 'callbackUrl'],
	] as const) {
		const url = String(options[option] ?? '').trim();
		if (url !== '') fields[field] = url;
	}
	const policy =
		this.getNode().typeVersion >= 1.1
			? groupedTaskPolicyFields(options, this.getNodeParameter('retry', itemIndex, {}) as IDataObject)
			: taskPolicyFields(options);
	return { ...fields, ...policy };
}

/**
 * Creates the batch in one request when its items fit, otherwise opens it, adds the items page by
 * page and starts it. A failed upload cancels the open batch, so no half-filled batch is left.
 */
async function createBatch(this: IExecuteFunctions, fields: IDataObject, values: unknown[], itemIndex: number): Promise<IDataObject> {
	if (values.length === 0) {
		throw new NodeOperationError(this.getNode(), 'A batch needs at least one item', { itemIndex });
	}
	const [first, ...rest] = chunkForRequests(values, MAX_ITEMS_PER_PAGE, MAX_ITEMS_BYTES_PER_REQUEST);
	if (rest.length === 0) {
		return await engineRequest(this, { method: 'POST', path: '/v1/batches', body: { ...fields, items: first } as IDataObject, itemIndex });
	}

	const opened = await engineRequest(this, {
		method: 'POST',
		path: '/v1/batches',
		body: { ...fields, open: true, items: first } as IDataObject,
		itemIndex,
	});
	const path = `/v1/batches/${pathSegment(String(opened.id))}`;
	try {
		for (const page of rest) {
			await engineRequest(this, { method: 'POST', path: `${path}/items`, body: { items: page } as IDataObject, itemIndex });
		}
		return await engineRequest(this, { method: 'POST', path: `${path}/start`, itemIndex });
	} catch (error) {
		// Best effort: the upload's error is the one to report, not a failed clean-up.
		await engineRequest(this, { method: 'POST', path: `${path}/cancel`, itemIndex }).catch(() => undefined);
		throw asNodeError(this.getNode(), error, itemIndex);
	}
}

async function createAndMaybeWait(this: IExecuteFunctions, values: unknown[], itemIndex: number): Promise<IDataObject> {
	const batch = await createBatch.call(this, batchFields.call(this, itemIndex), values, itemIndex);
	// Version 1 kept these two among the options.
	const prefix = this.getNode().typeVersion >= 1.1 ? '' : 'options.';
	if (this.getNodeParameter(`${prefix}waitUntilFinished`, itemIndex, false) !== true) return batch;
	const timeoutSeconds = this.getNodeParameter(`${prefix}waitTimeoutSeconds`, itemIndex, 3600) as number;
	return await waitForBatch.call(this, String(batch.id), timeoutSeconds, itemIndex);
}

/** `a.b.c` of an object, for the array field. */
function fieldAt(json: IDataObject, path: string): unknown {
	return path.split('.').reduce<unknown>((value, key) => (value as IDataObject | undefined)?.[key], json);
}

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	if (this.getNodeParameter('itemsSource', 0) === 'arrayField') {
		return await runPerItem.call(this, items, async (itemIndex) => {
			const field = requiredString.call(this, 'arrayField', 'Array Field', itemIndex);
			const values = fieldAt(items[itemIndex].json, field);
			if (!Array.isArray(values)) {
				throw new NodeOperationError(this.getNode(), `Field "${field}" is not an array`, { itemIndex });
			}
			return await createAndMaybeWait.call(this, values, itemIndex);
		});
	}

	// One batch of every input item: its output stands for all of them.
	try {
		const batch = await createAndMaybeWait.call(
			this,
			items.map((item) => item.json),
			0,
		);
		return [{ json: batch, pairedItem: pairedWithAll(items) }];
	} catch (error) {
		const nodeError = asNodeError(this.getNode(), error, 0);
		if (!this.continueOnFail()) throw nodeError;
		return [errorItem(nodeError, pairedWithAll(items))];
	}
}
