import { createHmac, timingSafeEqual } from 'node:crypto';
import { secretKey } from './signature.js';

/**
 * The confirmation marker (docs/delivery-contract.md, handler `confirm`): proof, in the answer to a delivery,
 * that the handler itself received THIS attempt and ran its work — not a booting n8n (which
 * answers `200 n8n is starting up. Please wait` to everything), a proxy's 200, or an answer meant
 * for another task or attempt.
 *
 *   x-task-confirm: v1,<base64 HMAC-SHA256("confirm.<webhook-id>.<attempt>.<webhook-timestamp>")>
 *
 * keyed like the delivery signature (the base64-decoded bytes after `whsec_` of the handler's
 * secret). The three inputs are the signed `webhook-id` and `webhook-timestamp` headers and the
 * `attempt` of the signed body, so only a holder of the secret that verified this very attempt can
 * produce it. The `confirm.` prefix keeps markers and delivery signatures apart (a signed string
 * starts with the task id). Pinned to the Task Trigger by `test/vectors/task-confirm.json`.
 */

export const CONFIRM_HEADER = 'x-task-confirm';

const VERSION = 'v1';

/** What one attempt's marker covers. */
export interface ConfirmationInput {
	/** `webhook-id`: the task id. */
	id: string;
	/** The attempt number of the delivery body (`attempt`, also `x-task-attempt`). */
	attempt: number;
	/** `webhook-timestamp`, unix seconds. */
	timestampSeconds: number;
}

/** The base64 HMAC a handler must return (after `v1,`) for this attempt. */
export function confirmationMarker(secret: string, input: ConfirmationInput): string {
	return createHmac('sha256', secretKey(secret))
		.update(`confirm.${input.id}.${input.attempt}.${input.timestampSeconds}`, 'utf8')
		.digest('base64');
}

/**
 * True when the `x-task-confirm` header value holds `v1,<expected>` (one of several
 * space-separated entries, as with signatures; compared as text in constant time).
 */
export function isConfirmed(headerValue: string | undefined, expected: string): boolean {
	if (headerValue === undefined) return false;
	const wanted = Buffer.from(expected, 'utf8');
	return headerValue
		.split(' ')
		.filter((entry) => entry.startsWith(`${VERSION},`))
		.map((entry) => Buffer.from(entry.slice(VERSION.length + 1), 'utf8'))
		.some((candidate) => candidate.length === wanted.length && timingSafeEqual(candidate, wanted));
}
