import type { IDataObject, IHookFunctions, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { asNodeError } from '../shared/items';
import { pathSegment } from '../shared/parameters';
import { engineErrorBodyOf, engineRequest, hasEngineCode, hasStatus } from '../shared/transport';

/**
 * The per-key limits of the trigger's queue (docs/flow-control.md), set where the worker is built: the
 * tasks' Concurrency Key comes from Enqueue Task, the limit it obeys from here. Applied when the
 * trigger registers: the queue is created with them, or an existing queue whose settings differ is
 * changed (only the settings added here; others stay as they are). Creating a queue with settings
 * and changing one both need an API key with scope "admin"; with a "write" key the activation
 * fails with a message saying so, unless the queue already has these settings.
 */

export const queueSettingsProperty: INodeProperties = {
	displayName: 'Queue Settings',
	name: 'queueSettings',
	type: 'collection',
	placeholder: 'Add Queue Setting',
	default: {},
	description:
		"Limits per Concurrency Key (set on Enqueue Task), applied to the queue when the trigger is activated: it is created with them, or its settings are changed where they differ. Needs an API key with scope \"admin\" unless the queue already has them. A setting not added here stays as the queue has it.",
	options: [
		{
			displayName: 'Key Concurrency',
			name: 'keyConcurrency',
			type: 'number',
			typeOptions: { minValue: 1, maxValue: 10000 },
			default: 1,
			description:
				'At most this many tasks of one key run at once; other keys go on. 1: one at a time per key, e.g. per customer when Enqueue Task sets the customer ID as Concurrency Key.',
		},
		{
			displayName: 'Key Rate Limit',
			name: 'keyRateLimit',
			type: 'fixedCollection',
			typeOptions: { multipleValues: false },
			default: { limit: {} },
			placeholder: 'Add Key Rate Limit',
			description: 'At most Max Tasks of one key start per period, e.g. 2 per 1 second for an API that allows 2 calls per second per account',
			options: [
				{
					displayName: 'Limit',
					name: 'limit',
					values: [
						{
							displayName: 'Max Tasks',
							name: 'max',
							type: 'number',
							typeOptions: { minValue: 1, maxValue: 1000000 },
							default: 1,
							description: 'How many tasks of one key may start in one period',
						},
						{
							displayName: 'Period (Seconds)',
							name: 'periodSeconds',
							type: 'number',
							typeOptions: { minValue: 1, maxValue: 86400 },
							default: 1,
							description: 'Length of the window, which starts with the first task of the key in it',
						},
					],
				},
			],
		},
	],
};

/** The engine's queue fields for the settings the user added (`{}` when none). */
export function queueSettingsOf(context: IHookFunctions): IDataObject {
	const settings = context.getNodeParameter('queueSettings', {}) as IDataObject;
	const fields: IDataObject = {};
	if (settings.keyConcurrency !== undefined) {
		fields.keyConcurrency = positiveInteger(context, settings.keyConcurrency, 'Queue Settings → Key Concurrency');
	}
	const limit = (settings.keyRateLimit as IDataObject | undefined)?.limit as IDataObject | undefined;
	if (limit !== undefined) {
		fields.keyRateLimit = {
			max: positiveInteger(context, limit.max, 'Queue Settings → Key Rate Limit → Max Tasks'),
			periodSeconds: positiveInteger(context, limit.periodSeconds, 'Queue Settings → Key Rate Limit → Period (Seconds)'),
		};
	}
	return fields;
}

function positiveInteger(context: IHookFunctions, value: unknown, displayName: string): number {
	const number = Number(value);
	if (!Number.isInteger(number) || number < 1) {
		throw new NodeOperationError(context.getNode(), `${displayName} must be a whole number of at least 1`);
	}
	return number;
}

type Queue = IDataObject;

/**
 * Makes `queue` have `settings`: creates it with them when it is missing (if `createIfMissing`),
 * changes the ones that differ when it exists. A queue that is missing and not to be created is
 * left to the handler registration, which reports it.
 */
export async function applyQueueSettings(
	context: IHookFunctions,
	queue: string,
	settings: IDataObject,
	createIfMissing: boolean,
): Promise<void> {
	let current = await queueIfExists(context, queue);
	if (current === undefined) {
		if (!createIfMissing) return;
		try {
			await engineRequest(context, { method: 'POST', path: '/v1/queues', body: { name: queue, ...settings } });
			return;
		} catch (error) {
			if (hasStatus(error, 403)) throw needsAdmin(context, error, `Creating queue "${queue}" with Queue Settings`);
			// Created by someone else meanwhile: compare with theirs, as for any existing queue.
			if (!hasEngineCode(error, 'queue_exists')) throw asNodeError(context.getNode(), error, 0);
		}
		current = await queueIfExists(context, queue);
		if (current === undefined) throw new NodeOperationError(context.getNode(), `Queue "${queue}" could not be created`);
	}
	const changes = differingSettings(settings, current);
	if (Object.keys(changes).length === 0) return;
	try {
		await engineRequest(context, { method: 'PUT', path: `/v1/queues/${pathSegment(queue)}`, body: changes });
	} catch (error) {
		if (hasStatus(error, 403)) {
			const what = Object.keys(changes).map((field) => `${field} ${JSON.stringify(current[field] ?? null)} → ${JSON.stringify(changes[field])}`);
			throw needsAdmin(context, error, `Changing the settings of queue "${queue}" (${what.join(', ')})`);
		}
		throw asNodeError(context.getNode(), error, 0);
	}
}

async function queueIfExists(context: IHookFunctions, queue: string): Promise<Queue | undefined> {
	try {
		return await engineRequest<Queue>(context, { method: 'GET', path: `/v1/queues/${pathSegment(queue)}` });
	} catch (error) {
		if (hasStatus(error, 404)) return undefined;
		throw asNodeError(context.getNode(), error, 0);
	}
}

/** The settings whose value in the queue is not the wanted one. */
function differingSettings(wanted: IDataObject, current: Queue): IDataObject {
	return Object.fromEntries(Object.entries(wanted).filter(([field, value]) => !sameSetting(current[field], value)));
}

/** A number, or an object of numbers (`keyRateLimit`) compared field by field. */
function sameSetting(current: unknown, wanted: unknown): boolean {
	if (typeof wanted !== 'object' || wanted === null) return current === wanted;
	if (typeof current !== 'object' || current === null) return false;
	return Object.entries(wanted).every(([field, value]) => (current as IDataObject)[field] === value);
}

/** What a 403 means here: the key may register handlers but not choose queue settings. */
function needsAdmin(context: IHookFunctions, error: unknown, action: string): NodeOperationError {
	const engineMessage = engineErrorBodyOf(error)?.error.message;
	return new NodeOperationError(context.getNode(), `${action} needs an API key with scope "admin"`, {
		description:
			'The credential\'s key may not change queue settings. Use a credential with an "admin" key, give the queue these settings in the engine beforehand, or remove them from Queue Settings.' +
			(engineMessage === undefined ? '' : `\nEngine: ${engineMessage}`),
	});
}
