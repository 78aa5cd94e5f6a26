import { Type } from 'typebox';
import { invalidField } from '../../errors.js';

/** Shapes shared by several resources (DESIGN §3.7). */

export const QueueName = Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', minLength: 1, maxLength: 64, description: 'Letters, digits, . _ - (1–64)' });

export const Uuid = Type.String({ format: 'uuid' });

/** A task type (what handlers switch on); the same bounds wherever a task name is given. */
export function taskNameSchema(description: string) {
	return Type.String({ minLength: 1, maxLength: 200, description });
}

export const Priority = Type.Union(
	[Type.Enum(['high', 'normal', 'low']), Type.Integer({ minimum: -100, maximum: 100 })],
	{ description: '`high` (10), `normal` (0), `low` (-10), or an integer from -100 to 100; higher runs first' },
);

export const RetryPolicyInput = Type.Object(
	{
		limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'Retries after the first attempt' })),
		delaySeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400, description: 'Base delay (default 60)' })),
		backoff: Type.Optional(Type.Enum(['exponential', 'fixed'])),
		maxDelaySeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86400, description: 'Cap of one delay (default 3600)' })),
	},
	{ additionalProperties: false },
);

export const RetryPolicy = Type.Object({
	limit: Type.Integer(),
	delaySeconds: Type.Integer(),
	backoff: Type.String(),
	maxDelaySeconds: Type.Integer(),
});

export const TimeoutSeconds = Type.Integer({ minimum: 1, maximum: 3600, description: 'Attempt timeout, 1–3600 s' });

export const ErrorBody = Type.Object({
	error: Type.Object({
		code: Type.String(),
		message: Type.String(),
		details: Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
	}),
});

/** Every 4xx a route can answer, for the OpenAPI document. */
export const errorResponses = {
	400: ErrorBody,
	401: ErrorBody,
	404: ErrorBody,
	409: ErrorBody,
	413: ErrorBody,
	415: ErrorBody,
};

export const ListQuery = {
	limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
	cursor: Type.Optional(Type.String({ maxLength: 200 })),
};

/** Where a newest-first page (tasks, batches) ends: keyset position on (created_at, id). */
export interface CreatedAtPosition {
	createdAt: string;
	id: string;
}

/** Opaque cursors: base64url of a small JSON position, so clients cannot depend on their contents. */
export function encodeCreatedAtCursor(position: CreatedAtPosition | null): string | null {
	return position === null ? null : Buffer.from(JSON.stringify({ c: position.createdAt, i: position.id })).toString('base64url');
}

/** The position of a cursor this API returned; a 400 naming `cursor` for anything else. */
export function decodeCreatedAtCursor(cursor: string | undefined): CreatedAtPosition | null {
	if (cursor === undefined) return null;
	try {
		const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { c?: unknown; i?: unknown } | null;
		if (typeof p?.c === 'string' && !Number.isNaN(Date.parse(p.c)) && typeof p.i === 'string' && /^[0-9a-f-]{36}$/.test(p.i)) {
			return { createdAt: p.c, id: p.i };
		}
	} catch {
		// reported below
	}
	throw invalidField('cursor', 'is not a cursor this API returned');
}
