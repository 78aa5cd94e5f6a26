import type { HandlerRow } from '../queues/handlerSql.js';
import type { QueueRow } from '../queues/queueSql.js';
import type { TaskRow } from '../tasks/taskSql.js';
import { confirmationMarker } from './confirmation.js';
import { deliveryHeaders } from './signature.js';
import type { DeliveryRequest } from './httpDelivery.js';

/** Where one attempt goes, which secrets sign it, and whether a 2xx must carry the confirmation marker. */
export interface Target {
	url: string;
	secrets: string[];
	handlerId: string | null;
	/** A handler registered with `confirm` (the Task Trigger); task URLs never need it. */
	confirm: boolean;
}

/** A task with its own URL is signed with the queue's secret (both while it rotates); else the handler's. */
export function targetFor(task: TaskRow, queue: QueueRow, handler: HandlerRow | undefined, now: Date): Target | null {
	if (task.url !== null) {
		const secrets = [queue.secret];
		if (queue.previousSecret && queue.previousSecretExpiresAt && queue.previousSecretExpiresAt > now) secrets.push(queue.previousSecret);
		return { url: task.url, secrets, handlerId: null, confirm: false };
	}
	if (!handler) return null;
	return { url: handler.url, secrets: [handler.secret], handlerId: handler.id, confirm: handler.confirm };
}

/**
 * The delivery body (docs/delivery-contract.md); `scheduledFor` is the task's due time. A
 * dead-letter event is delivered as the event itself: `{ type: "task.dead_lettered", task }`.
 */
export function taskDeliveryBody(task: TaskRow): unknown {
	if (task.event === 'dead_letter') return task.payload;
	return {
		id: task.id,
		queue: task.queue,
		name: task.name,
		payload: task.payload,
		attempt: task.attemptCount,
		maxAttempts: task.budgetBase + task.retry.limit + 1,
		scheduledFor: task.dueAt.toISOString(),
		createdAt: task.createdAt.toISOString(),
		...(task.batch ? { batch: task.batch } : {}),
		...(task.schedule ? { schedule: task.schedule } : {}),
	};
}

/** The signed HTTP request of one attempt: a fresh timestamp and signature every time. */
export function taskDeliveryRequest(task: TaskRow, target: Target, now: Date): DeliveryRequest {
	const body = JSON.stringify(taskDeliveryBody(task));
	const timestampSeconds = Math.floor(now.getTime() / 1000);
	return {
		url: target.url,
		body,
		timeoutMs: task.timeoutSeconds * 1000,
		// The marker covers what this attempt's signature does, so only the handler that verified it can answer it.
		...(target.confirm ? { confirmation: confirmationMarker(target.secrets[0], { id: task.id, attempt: task.attemptCount, timestampSeconds }) } : {}),
		headers: {
			...deliveryHeaders({
				id: task.id,
				timestampSeconds,
				body,
				secrets: target.secrets,
				attempt: task.attemptCount,
				queue: task.queue,
			}),
			...(task.event === 'dead_letter' ? { 'x-task-event': 'dead_letter' } : {}),
		},
	};
}
