import { createHmac } from 'crypto';

import { keyOf } from './signature';

/**
 * The confirmation marker the engine requires from handlers registered with `confirm: true`
 * (docs/delivery-contract.md): a 2xx without it — n8n's `200 n8n is starting up. Please wait` while it boots,
 * a proxy's 200 — does not complete the task, it is retried as `unconfirmed`.
 *
 *   x-task-confirm: v1,<base64 HMAC-SHA256("confirm.<webhook-id>.<attempt>.<webhook-timestamp>")>
 *
 * keyed with the secret that verified the delivery, over its signed id and timestamp headers and
 * the attempt number (`deliveryAttempt`): only this trigger can produce it, and only for this
 * attempt. Pinned to the engine by `test/vectors/task-confirm.json`.
 */

export const CONFIRM_HEADER = 'x-task-confirm';

/**
 * The attempt number a marker is computed for: the signed body's `attempt` (every task delivery
 * has one), else the `x-task-attempt` header — an event delivery (a dead letter) describes a task
 * in its body and has no top-level `attempt`, but is itself delivered in numbered attempts.
 */
export function deliveryAttempt(bodyAttempt: unknown, attemptHeader: unknown): unknown {
	if (bodyAttempt !== undefined) return bodyAttempt;
	return typeof attemptHeader === 'string' && /^\d{1,15}$/.test(attemptHeader.trim()) ? Number(attemptHeader.trim()) : undefined;
}

/**
 * The header value for one verified delivery, or `undefined` when the delivery carries no usable
 * attempt number (the engine always sends one; without it there is nothing to confirm).
 */
export function confirmationHeader(secret: string, id: string, attempt: unknown, timestamp: string): string | undefined {
	const key = keyOf(secret);
	const seconds = Number(timestamp.trim());
	if (key === undefined || typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || !Number.isSafeInteger(seconds)) {
		return undefined;
	}
	const mac = createHmac('sha256', key).update(`confirm.${id}.${attempt}.${seconds}`, 'utf8').digest('base64');
	return `v1,${mac}`;
}
