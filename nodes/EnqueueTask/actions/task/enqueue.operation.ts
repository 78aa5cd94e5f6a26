import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { chunkForRequests, MAX_ITEMS_BYTES_PER_REQUEST } from '../../../shared/chunks';
import { asNodeError, errorItem, runPerItem } from '../../../shared/items';
import { jsonParameter, requiredString } from '../../../shared/parameters';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';
import {
	groupedTaskPolicyFields,
	priorityOption,
	retrySection,
	taskPolicyFields,
	taskPolicyOptions,
	timeoutOptions,
} from '../../../shared/taskPolicy';
import { durationSeconds, durationUnitOptions, toUtcIso } from '../../../shared/time';
import { engineRequest, engineRequestWithStatus } from '../../../shared/transport';
import { shownFromVersion1_1, shownInVersion1 } from '../../../shared/versions';
import { concurrencyKeyOption, debounceOption, flowControlFields } from './flowControl';
import { payloadFieldsProperty, payloadFromFields } from './payloadFields';

/** The engine accepts at most this many tasks per bulk request. */
const MAX_TASKS_PER_BULK_REQUEST = 1000;

const bulkOption: INodeProperties = {
	displayName: 'Enqueue in Bulk',
	name: 'bulk',
	type: 'boolean',
	default: false,
	description:
		'Whether to send all items in bulk requests of up to 1,000 tasks instead of one request per item. Each request is all or nothing.',
};

const idempotencyKeyOption: INodeProperties = {
	displayName: 'Idempotency Key',
	name: 'idempotencyKey',
	type: 'string',
	default: '',
	placeholder: 'e.g. {{ $json.orderId }}',
	description:
		'Enqueuing again with the same key (within 24 hours, per queue) returns the first task instead of creating another',
};

/** For tasks whose worker answers at once and reports later (Task Trigger Finish "With a Complete/Fail Step"). */
const asyncTimeoutOption: INodeProperties = {
	displayName: 'Async Timeout (Seconds)',
	name: 'asyncTimeoutSeconds',
	type: 'number',
	typeOptions: { minValue: 1, maxValue: 86400 },
	default: 3600,
	description:
		"How long an attempt the worker answered at once (202) may stay open without a report or heartbeat before it counts as timed out. Not set: the queue's, else 1 hour.",
};

const targetUrlOption: INodeProperties = {
	displayName: 'Target URL',
	name: 'targetUrl',
	type: 'string',
	default: '',
	placeholder: 'e.g. https://example.com/hooks/task',
	description: "Deliver to this URL instead of the queue's Task Triggers",
};

const properties: INodeProperties[] = [
	queueLocator({ description: 'Queue the task goes to; its Task Trigger (or the target URL) receives it' }),
	{
		displayName: 'Task Name',
		name: 'taskName',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. send-welcome-email',
		description: 'Type of the task; the handler receives it as <code>name</code>',
	},
	{
		displayName: 'Payload',
		name: 'payloadSource',
		type: 'options',
		options: [
			{
				name: 'Input Item',
				value: 'inputItem',
				description: "The input item's JSON becomes the payload",
			},
			{
				name: 'Fields Below',
				value: 'fieldsBelow',
				description: 'Name the payload fields one by one, each with a type, as in Edit Fields (Set)',
			},
			{
				// Value kept from the first release, when this was the only other choice.
				name: 'JSON',
				value: 'defineBelow',
				description: 'Write the payload as JSON or an expression',
			},
		],
		default: 'inputItem',
	},
	{ ...payloadFieldsProperty, displayOptions: { show: { payloadSource: ['fieldsBelow'] } } },
	{
		displayName: 'Payload JSON',
		name: 'payload',
		type: 'json',
		default: '{}',
		description: 'Any JSON value the handler receives as <code>payload</code>',
		displayOptions: { show: { payloadSource: ['defineBelow'] } },
	},
	{
		displayName: 'Run',
		name: 'when',
		type: 'options',
		options: [
			{ name: 'Now', value: 'now', description: 'As soon as a handler is free' },
			{ name: 'After a Delay', value: 'afterDelay', description: 'Wait a while first' },
			{ name: 'At a Date and Time', value: 'atDateTime', description: 'Not before a given moment' },
		],
		default: 'now',
	},
	{
		displayName: 'Delay',
		name: 'delay',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 5,
		displayOptions: { show: { when: ['afterDelay'] } },
	},
	{
		displayName: 'Delay Unit',
		name: 'delayUnit',
		type: 'options',
		options: durationUnitOptions,
		default: 'minutes',
		displayOptions: { show: { when: ['afterDelay'] } },
	},
	{
		displayName: 'Run At',
		name: 'runAt',
		type: 'dateTime',
		default: '',
		description: "When the task becomes due; a time without offset is in the workflow's time zone",
		displayOptions: { show: { when: ['atDateTime'] } },
	},
	// Version 1: every policy field a loose option, filled in with Normal's values once added.
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: { show: shownInVersion1 },
		options: [bulkOption, idempotencyKeyOption, ...taskPolicyOptions, targetUrlOption],
	},
	// From 1.1: the retry fields in their own section, each inherited until added.
	{ ...retrySection('/options.priority'), displayOptions: { show: shownFromVersion1_1 } },
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: { show: shownFromVersion1_1 },
		options: [
			asyncTimeoutOption,
			concurrencyKeyOption,
			debounceOption,
			bulkOption,
			idempotencyKeyOption,
			priorityOption,
			targetUrlOption,
			...timeoutOptions,
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['task'], operation: ['enqueue'] } },
	properties,
);

/** The task's payload for one input item, from the chosen source. */
function payloadOf(this: IExecuteFunctions, item: INodeExecutionData, itemIndex: number): IDataObject {
	const source = this.getNodeParameter('payloadSource', itemIndex) as string;
	if (source === 'defineBelow') return jsonParameter.call(this, 'payload', 'Payload JSON', itemIndex) as IDataObject;
	if (source === 'fieldsBelow') return payloadFromFields.call(this, itemIndex);
	return item.json;
}

/** The engine's enqueue body for one input item. */
function taskBody(this: IExecuteFunctions, item: INodeExecutionData, itemIndex: number): IDataObject {
	const queue = queueNameParameter.call(this, 'queue', itemIndex);
	if (queue === '') throw new NodeOperationError(this.getNode(), 'Queue is required', { itemIndex });
	const body: IDataObject = {
		queue,
		name: requiredString.call(this, 'taskName', 'Task Name', itemIndex),
		payload: payloadOf.call(this, item, itemIndex),
	};

	const when = this.getNodeParameter('when', itemIndex) as string;
	if (when === 'afterDelay') {
		const seconds = durationSeconds(
			this.getNodeParameter('delay', itemIndex),
			this.getNodeParameter('delayUnit', itemIndex) as string,
		);
		if (seconds === undefined) {
			throw new NodeOperationError(this.getNode(), 'Delay must be a number of at least 0', { itemIndex });
		}
		body.delaySeconds = seconds;
	} else if (when === 'atDateTime') {
		const runAt = toUtcIso(this.getNodeParameter('runAt', itemIndex), this.getTimezone());
		if (runAt === undefined) {
			throw new NodeOperationError(this.getNode(), 'Run At must be a date and time', { itemIndex });
		}
		body.runAt = runAt;
	}

	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const targetUrl = String(options.targetUrl ?? '').trim();
	if (targetUrl !== '') body.url = targetUrl;
	const idempotencyKey = String(options.idempotencyKey ?? '').trim();
	if (idempotencyKey !== '') body.idempotencyKey = idempotencyKey;
	if (options.asyncTimeoutSeconds !== undefined) body.asyncTimeoutSeconds = options.asyncTimeoutSeconds;
	const flowControl = flowControlFields(this.getNode(), options, itemIndex);
	if (flowControl.debounce !== undefined && when !== 'now') {
		// The debounce decides when the task runs: each enqueue of the burst moves it.
		throw new NodeOperationError(this.getNode(), 'Debounce works only with Run "Now"', {
			itemIndex,
			description: 'A debounced task runs Wait (Seconds) after the last enqueue of its key; remove the delay or date, or the Debounce option.',
		});
	}
	if (flowControl.debounce !== undefined && body.idempotencyKey !== undefined) {
		// The debounce key already folds repeats into one task, whose payload the joins change.
		throw new NodeOperationError(this.getNode(), 'Debounce cannot be combined with an Idempotency Key', {
			itemIndex,
			description: 'Enqueues with the same Debounce Key already become one task; remove the Idempotency Key or the Debounce option.',
		});
	}
	const policy =
		this.getNode().typeVersion >= 1.1
			? groupedTaskPolicyFields(options, this.getNodeParameter('retry', itemIndex, {}) as IDataObject)
			: taskPolicyFields(options);
	return { ...body, ...flowControl, ...policy };
}

export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	if (this.getNodeParameter('options.bulk', 0, false) === true) return await enqueueInBulk.call(this, items);

	return await runPerItem.call(this, items, async (itemIndex) => {
		const { statusCode, body } = await engineRequestWithStatus(this, {
			method: 'POST',
			path: '/v1/tasks',
			body: taskBody.call(this, items[itemIndex], itemIndex),
			itemIndex,
		});
		// 200 instead of 201: the idempotency key matched an existing task, or the enqueue joined a
		// debounced one (`debounced: true`); either way that task is returned.
		return { ...body, created: statusCode === 201 };
	});
}

interface PreparedTask {
	itemIndex: number;
	body: IDataObject;
}

/**
 * One request per 1,000 tasks (fewer when payloads are large). A request is all or nothing, so a
 * rejected one fails every item in it; the item the engine names (`tasks[i]`) is the one reported.
 */
async function enqueueInBulk(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	const outputByItem: INodeExecutionData[][] = items.map(() => []);
	const prepared: PreparedTask[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			prepared.push({ itemIndex, body: taskBody.call(this, items[itemIndex], itemIndex) });
		} catch (error) {
			const nodeError = asNodeError(this.getNode(), error, itemIndex);
			if (!this.continueOnFail()) throw nodeError;
			outputByItem[itemIndex] = [errorItem(nodeError, { item: itemIndex })];
		}
	}

	const chunks = chunkForRequests(prepared, MAX_TASKS_PER_BULK_REQUEST, MAX_ITEMS_BYTES_PER_REQUEST, (p) => p.body);
	for (const chunk of chunks) {
		try {
			const response = await engineRequest<{ items: IDataObject[] }>(this, {
				method: 'POST',
				path: '/v1/tasks/bulk',
				body: { tasks: chunk.map((p) => p.body) },
				itemIndex: chunk[0].itemIndex,
			});
			response.items.forEach((task, position) => {
				const { itemIndex } = chunk[position];
				outputByItem[itemIndex] = [{ json: task, pairedItem: { item: itemIndex } }];
			});
		} catch (error) {
			const nodeError = asNodeError(this.getNode(), error, chunk[0].itemIndex);
			const named = namedTaskPosition(nodeError.message);
			if (named !== undefined && chunk[named] !== undefined) nodeError.context.itemIndex = chunk[named].itemIndex;
			if (!this.continueOnFail()) throw nodeError;
			for (const { itemIndex } of chunk) outputByItem[itemIndex] = [errorItem(nodeError, { item: itemIndex })];
		}
	}
	return outputByItem.flat();
}

/** `tasks[3].idempotencyKey …` → 3: the position in the bulk request the engine complains about. */
function namedTaskPosition(message: string): number | undefined {
	const match = /\btasks\[(\d+)\]/.exec(message);
	return match === null ? undefined : Number(match[1]);
}
