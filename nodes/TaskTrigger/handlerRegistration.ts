import type { IDataObject, IHookFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { asNodeError } from '../shared/items';
import { pathSegment } from '../shared/parameters';
import { queueNameParameter } from '../shared/queueLocator';
import { engineRequest, hasEngineCode, hasStatus } from '../shared/transport';
import { applyQueueSettings, queueSettingsOf } from './queueSettings';

/**
 * The Task Trigger's webhook lifecycle: its webhook URL registered as a handler of the queue.
 * n8n calls these for the production URL when the workflow is activated/deactivated, and for the
 * test URL while the editor listens for a test event; each kind keeps its own registration (id,
 * secret) in the node's static data, so a test session never replaces the production handler.
 *
 * Removal goes by URL, not by mode or static data: n8n runs every `delete` hook in `internal` mode
 * (test and production alike), and a test session ends with a workflow rebuilt from n8n's cache,
 * whose node data may be gone. The engine is the backstop: a test handler takes one task and is
 * deleted after it, or 120 s after its registration.
 */

/** `production` for an active workflow, `test` while the editor listens for a test event. */
export type HandlerMode = 'production' | 'test';

/** What the node keeps about one registered handler. */
export interface Registration {
	handlerId: string;
	secret: string;
	queue: string;
	url: string;
	events: string[];
}

/**
 * n8n runs `checkExists`/`create` (and the webhook) of the test URL in `manual` mode. (Not `delete`:
 * that runs in `internal` mode for both, see removeHandler.)
 */
export function handlerModeOf(executionMode: string): HandlerMode {
	return executionMode === 'manual' ? 'test' : 'production';
}

export function registrationOf(staticData: IDataObject, mode: HandlerMode): Registration | undefined {
	const value = staticData[mode] as Registration | undefined;
	return typeof value?.handlerId === 'string' && typeof value.secret === 'string' ? value : undefined;
}

interface Handler {
	id: string;
	url: string;
	mode: string;
	events: string[];
	secret: string;
	confirm?: boolean;
}

function handlerPath(registration: Pick<Registration, 'queue' | 'handlerId'>): string {
	return `/v1/queues/${pathSegment(registration.queue)}/handlers/${pathSegment(registration.handlerId)}`;
}

function wantedHandler(context: IHookFunctions): { queue: string; url: string; events: string[]; mode: HandlerMode } {
	const queue = queueNameParameter.call(context, 'queue');
	if (queue === '') throw new NodeOperationError(context.getNode(), 'Queue is required');
	const events = context.getNodeParameter('events', ['task']) as string[];
	if (events.length === 0) throw new NodeOperationError(context.getNode(), 'Choose at least one kind of event to receive');
	const url = context.getNodeWebhookUrl('default');
	if (url === undefined) throw new NodeOperationError(context.getNode(), 'n8n gave no webhook URL for this node');
	return { queue, url, events: [...events].sort(), mode: handlerModeOf(context.getMode()) };
}

/** True when the engine still has this node's handler, registered as the parameters say. */
export async function handlerExists(this: IHookFunctions): Promise<boolean> {
	const wanted = wantedHandler(this);
	const staticData = this.getWorkflowStaticData('node');
	const registration = registrationOf(staticData, wanted.mode);
	if (registration === undefined) return false;
	try {
		const handler = await engineRequest<Handler>(this, { method: 'GET', path: handlerPath(registration) });
		const current =
			registration.queue === wanted.queue &&
			handler.url === wanted.url &&
			handler.mode === wanted.mode &&
			handler.confirm === true &&
			[...handler.events].sort().join() === wanted.events.join();
		if (current) {
			// The engine is the source of truth for the secret (it may have been re-created).
			staticData[wanted.mode] = { ...registration, secret: handler.secret };
			return true;
		}
		// Registered for another queue, URL or events (or without confirmation, by an older version of
		// this node): remove it, so create() registers the right one.
		await engineRequest(this, { method: 'DELETE', path: handlerPath(registration) });
	} catch (error) {
		// 404: the handler (or its queue) is gone, so it does not exist; anything else is a real failure.
		if (!hasStatus(error, 404)) throw asNodeError(this.getNode(), error, 0);
	}
	delete staticData[wanted.mode];
	return false;
}

/**
 * Registers the webhook URL as a handler of the queue (creating the queue first if asked, and
 * giving it the trigger's Queue Settings).
 */
export async function registerHandler(this: IHookFunctions): Promise<boolean> {
	const wanted = wantedHandler(this);
	const createIfMissing = this.getNodeParameter('createQueueIfMissing', true) === true;
	const settings = queueSettingsOf(this);
	if (Object.keys(settings).length > 0) {
		await applyQueueSettings(this, wanted.queue, settings, createIfMissing);
	} else if (createIfMissing) {
		try {
			await engineRequest(this, { method: 'POST', path: '/v1/queues', body: { name: wanted.queue } });
		} catch (error) {
			if (!hasEngineCode(error, 'queue_exists')) throw asNodeError(this.getNode(), error, 0);
		}
	}
	// The same URL and mode again returns the existing handler (200), so this is safe to repeat.
	// `confirm`: the engine completes a task only when the answer carries this trigger's marker
	// (see confirmation.ts), so n8n's 200 while it boots can never pass for a finished workflow.
	const handler = await engineRequest<Handler>(this, {
		method: 'POST',
		path: `/v1/queues/${pathSegment(wanted.queue)}/handlers`,
		body: { url: wanted.url, events: wanted.events, mode: wanted.mode, confirm: true },
	});
	const registration: Registration = {
		handlerId: handler.id,
		secret: handler.secret,
		queue: wanted.queue,
		url: wanted.url,
		events: wanted.events,
	};
	this.getWorkflowStaticData('node')[wanted.mode] = registration as unknown as IDataObject;
	return true;
}

/**
 * Removes this node's handler: the registration kept for this webhook URL (test or production, the
 * URLs differ), and any other handler of the queue with this URL — the one a test session registered
 * when n8n no longer has the node's data, or one registered before the data was saved. One the
 * engine no longer has is fine.
 */
export async function removeHandler(this: IHookFunctions): Promise<boolean> {
	const url = this.getNodeWebhookUrl('default');
	if (url === undefined) throw new NodeOperationError(this.getNode(), 'n8n gave no webhook URL for this node');
	const staticData = this.getWorkflowStaticData('node');
	const queues = new Set<string>();
	for (const mode of ['production', 'test'] as const) {
		const registration = registrationOf(staticData, mode);
		if (registration?.url !== url) continue;
		await deleteHandler(this, registration);
		queues.add(registration.queue);
		delete staticData[mode];
	}
	const queue = queueNameParameter.call(this, 'queue');
	if (queue !== '') queues.add(queue);
	for (const name of queues) await deleteHandlersWithUrl(this, name, url);
	return true;
}

async function deleteHandler(context: IHookFunctions, registration: Pick<Registration, 'queue' | 'handlerId'>): Promise<void> {
	try {
		await engineRequest(context, { method: 'DELETE', path: handlerPath(registration) });
	} catch (error) {
		if (!hasStatus(error, 404)) throw asNodeError(context.getNode(), error, 0);
	}
}

/** Deletes every handler of `queue` registered for `url` (a queue that no longer exists has none). */
async function deleteHandlersWithUrl(context: IHookFunctions, queue: string, url: string): Promise<void> {
	let handlers: Handler[];
	try {
		const page = await engineRequest<{ items: Handler[] }>(context, { method: 'GET', path: `/v1/queues/${pathSegment(queue)}/handlers` });
		handlers = page.items;
	} catch (error) {
		if (hasStatus(error, 404)) return;
		throw asNodeError(context.getNode(), error, 0);
	}
	for (const handler of handlers.filter((h) => h.url === url)) await deleteHandler(context, { queue, handlerId: handler.id });
}
