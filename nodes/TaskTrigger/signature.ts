import { createHmac, timingSafeEqual } from 'crypto';

/**
 * Verifies a delivery the Standard Webhooks way (https://www.standardwebhooks.com/), exactly as
 * the engine signs it: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed
 * with the base64-decoded bytes after `whsec_`, sent as one or more space-separated `v1,<base64>`
 * entries. Fails closed: no secret, a malformed header or any doubt is a rejection. Pinned to the
 * engine and to the independent `standardwebhooks` package by `test/vectors/standard-webhooks.json`.
 */

/** How far (seconds, either way) `webhook-timestamp` may be from our clock. */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The three signed headers, as received (a repeated header arrives as an array: rejected). */
export interface SignatureHeaders {
	id: unknown;
	timestamp: unknown;
	signature: unknown;
}

/** `secret`: the one that verified the delivery (it also keys the confirmation marker). */
export type SignatureVerdict =
	| { ok: true; secret: string }
	| { ok: false; reason: 'malformed' | 'timestamp_out_of_window' | 'bad_signature' };

/** The headers of a request (Node lowercases header names). */
export function signatureHeadersOf(headers: Record<string, unknown>): SignatureHeaders {
	return {
		id: headers['webhook-id'],
		timestamp: headers['webhook-timestamp'],
		signature: headers['webhook-signature'],
	};
}

/** The HMAC key of a `whsec_…` secret, or `undefined` for a secret that is not one. */
export function keyOf(secret: string): Buffer | undefined {
	if (!secret.startsWith(SECRET_PREFIX)) return undefined;
	const encoded = secret.slice(SECRET_PREFIX.length);
	if (encoded.length === 0 || !BASE64.test(encoded)) return undefined;
	return Buffer.from(encoded, 'base64');
}

/**
 * Checks the signed headers and the raw body bytes against any of `secrets` (the trigger may hold
 * a production and a test handler's secret). `nowSeconds` is our clock in unix seconds.
 */
export function verifySignature(
	secrets: readonly string[],
	headers: SignatureHeaders,
	rawBody: Buffer | undefined,
	nowSeconds: number,
): SignatureVerdict {
	const { id, timestamp, signature } = headers;
	if (
		typeof id !== 'string' ||
		id === '' ||
		typeof timestamp !== 'string' ||
		!/^\d{1,15}$/.test(timestamp.trim()) ||
		typeof signature !== 'string' ||
		!Buffer.isBuffer(rawBody)
	) {
		return { ok: false, reason: 'malformed' };
	}
	const entries = signature.split(' ').filter((entry) => entry !== '');
	if (entries.length === 0 || entries.some((entry) => !/^[^,]+,[^,]+$/.test(entry))) {
		return { ok: false, reason: 'malformed' };
	}
	// Checked first, as Standard Webhooks does: replays of old captured requests stop here.
	if (Math.abs(nowSeconds - Number(timestamp.trim())) > TIMESTAMP_TOLERANCE_SECONDS) {
		return { ok: false, reason: 'timestamp_out_of_window' };
	}

	const presented = entries
		.filter((entry) => entry.startsWith('v1,'))
		.map((entry) => Buffer.from(entry.slice(3), 'utf8'));
	for (const secret of secrets) {
		const key = keyOf(secret);
		if (key === undefined) continue;
		// The exact bytes received: a re-serialised body would not verify.
		const expected = Buffer.from(
			createHmac('sha256', key).update(`${id}.${timestamp.trim()}.`, 'utf8').update(rawBody).digest('base64'),
			'utf8',
		);
		// Compared as base64 text: a lenient base64 decoder would accept variants of a signature.
		if (presented.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) {
			return { ok: true, secret };
		}
	}
	return { ok: false, reason: 'bad_signature' };
}
