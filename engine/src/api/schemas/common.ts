import { Type } from 'typebox';

/** Shapes shared by several resources (DESIGN §3.7). */

export const QueueName = Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', minLength: 1, maxLength: 64, description: 'Letters, digits, . _ - (1–64)' });

export const Uuid = Type.String({ format: 'uuid' });

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

/** Opaque cursors: base64url of a small JSON position, so clients cannot depend on their contents. */
export function encodeCursor(position: unknown): string {
	return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | null {
	if (cursor === undefined) return null;
	try {
		const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
		if (check(value)) return value;
	} catch {
		// fall through to the error below
	}
	throw Object.assign(new Error('cursor is not a cursor this API returned'), { invalidCursor: true });
}
