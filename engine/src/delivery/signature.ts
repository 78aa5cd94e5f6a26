import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/): every delivery carries
 * `webhook-id`, `webhook-timestamp` and `webhook-signature`, so any existing verifier works.
 * The shared vectors in `test/vectors/standard-webhooks.json` pin this module to the
 * independent `standardwebhooks` package and to the n8n Task Trigger.
 */

const SECRET_PREFIX = 'whsec_';
const SIGNATURE_VERSION = 'v1';

/** How far (in seconds, either way) a receiver lets `webhook-timestamp` stray from its clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The `user-agent` of every delivery. */
export const DELIVERY_USER_AGENT = 'background-tasks-engine/0.1';

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
	return SECRET_PREFIX + randomBytes(32).toString('base64');
}

// Strict base64, because other verifiers (the standardwebhooks package among them) decode
// strictly: a secret Node would decode leniently could yield signatures nobody else can check.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// Decoded keys by secret: an engine signs thousands of deliveries a second with a handful of
// secrets, and checking and decoding each one every time showed up in profiles. Bounded, since
// secrets rotate.
const keyCache = new Map<string, Buffer>();

/** The HMAC key of a `whsec_…` secret (cached); throws for a secret that is not one. */
export function secretKey(secret: string): Buffer {
	const cached = keyCache.get(secret);
	if (cached) return cached;
	const key = decodeSecret(secret);
	if (keyCache.size >= 1000) keyCache.clear();
	keyCache.set(secret, key);
	return key;
}

function decodeSecret(secret: string): Buffer {
	if (!secret.startsWith(SECRET_PREFIX)) {
		throw new Error(`webhook secret must start with "${SECRET_PREFIX}"`);
	}
	const encoded = secret.slice(SECRET_PREFIX.length);
	if (encoded.length === 0 || !BASE64.test(encoded)) {
		throw new Error(`webhook secret must be "${SECRET_PREFIX}" followed by non-empty base64`);
	}
	return Buffer.from(encoded, 'base64');
}

function sign(key: Buffer, id: string, timestampSeconds: number, body: string): string {
	return createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
}

/**
 * The `webhook-signature` header value for one message: `v1,<signature>` per secret, space
 * separated. Pass the current secret and, while rotating, the previous one too.
 * Sign exactly the string you send: a re-serialised body would not verify.
 */
export function signPayload(
	secrets: readonly string[],
	id: string,
	timestampSeconds: number,
	body: string,
): string {
	if (secrets.length === 0) throw new Error('at least one webhook secret is required to sign');
	if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
		throw new Error('webhook timestamp must be whole unix seconds');
	}
	return secrets
		.map((secret) => `${SIGNATURE_VERSION},${sign(secretKey(secret), id, timestampSeconds, body)}`)
		.join(' ');
}

/** The three signed headers and the raw body, exactly as received. */
export interface SignedMessage {
	/** `webhook-id`. */
	id: string;
	/** `webhook-timestamp`: unix seconds (the header string, or a number). */
	timestamp: string | number;
	/** `webhook-signature`: one or more space-separated `v<n>,<base64>` entries. */
	signature: string;
	/** The raw request body, byte for byte as received (never re-serialised JSON). */
	body: string;
}

/** Options of {@link verifySignature}. */
export interface VerifyOptions {
	/** The receiver's clock. */
	now: Date;
	/** Accepted distance between `timestamp` and `now`, in seconds; 300 by default. */
	toleranceSeconds?: number;
}

/** Why a message was rejected. */
export type VerifyFailure = 'timestamp_out_of_window' | 'bad_signature' | 'malformed';

/** The verdict of {@link verifySignature}. */
export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure };

/**
 * Checks a received message against the receiver's secrets. Fails closed: no secrets, no
 * `v1` signature, or any doubt is a rejection. Accepts when any presented `v1` signature
 * matches any secret (either side may be mid-rotation). Throws only for a badly configured
 * secret, never for anything in the message.
 */
export function verifySignature(
	secrets: readonly string[],
	message: SignedMessage,
	{ now, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS }: VerifyOptions,
): VerifyResult {
	if (secrets.length === 0) return { ok: false, reason: 'bad_signature' };

	const timestampText = String(message.timestamp).trim();
	const entries = message.signature.split(' ').filter((entry) => entry.length > 0);
	if (
		message.id.length === 0 ||
		!/^\d{1,15}$/.test(timestampText) ||
		entries.length === 0 ||
		entries.some((entry) => !/^[^,]+,[^,]+$/.test(entry))
	) {
		return { ok: false, reason: 'malformed' };
	}

	// Checked before the signature, as Standard Webhooks does: replay protection does not
	// depend on the secret, and it cheaply rejects old captured messages.
	const timestamp = Number(timestampText);
	const nowSeconds = Math.floor(now.getTime() / 1000);
	if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
		return { ok: false, reason: 'timestamp_out_of_window' };
	}

	const presented = entries
		.filter((entry) => entry.startsWith(`${SIGNATURE_VERSION},`))
		.map((entry) => Buffer.from(entry.slice(SIGNATURE_VERSION.length + 1), 'utf8'));

	// Compare the base64 text, not decoded bytes: Node's lenient base64 decoder would accept
	// variants of a signature that strict verifiers reject.
	for (const secret of secrets) {
		const expected = Buffer.from(sign(secretKey(secret), message.id, timestamp, message.body), 'utf8');
		for (const candidate of presented) {
			if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) {
				return { ok: true };
			}
		}
	}
	return { ok: false, reason: 'bad_signature' };
}

/** What {@link deliveryHeaders} needs to know about one attempt. */
export interface DeliveryHeaderInput {
	/** The task id: the same on every attempt, so receivers can de-duplicate. */
	id: string;
	/** Unix seconds, fresh on every attempt. */
	timestampSeconds: number;
	/** The exact JSON text that will be sent as the body. */
	body: string;
	/** The queue's or handler's secrets (current first, the previous one while rotating). */
	secrets: readonly string[];
	/** Attempt number, starting at 1. */
	attempt: number;
	/** Queue name. */
	queue: string;
}

/** The headers of one signed delivery attempt (docs/delivery-contract.md). */
export function deliveryHeaders(input: DeliveryHeaderInput): Record<string, string> {
	return {
		'content-type': 'application/json',
		'webhook-id': input.id,
		'webhook-timestamp': String(input.timestampSeconds),
		'webhook-signature': signPayload(input.secrets, input.id, input.timestampSeconds, input.body),
		'x-task-attempt': String(input.attempt),
		'x-task-queue': input.queue,
		'user-agent': DELIVERY_USER_AGENT,
	};
}
