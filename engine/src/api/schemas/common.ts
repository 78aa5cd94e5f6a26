import { Type, type TSchema, type TSchemaOptions } from 'typebox';

/** Shapes shared by several resources. */

/**
 * A queue name travels in URL paths (`/v1/queues/{name}`), where `.` and `..` are path steps that
 * clients and proxies resolve away: a queue of that name could never be reached, so it is refused.
 */
export const QUEUE_NAME_PATTERN = '^(?!\\.\\.?$)[A-Za-z0-9._-]{1,64}$';
export const QueueName = Type.String({ pattern: QUEUE_NAME_PATTERN, minLength: 1, maxLength: 64, description: 'Letters, digits, . _ - (1–64); not "." or ".."' });

/**
 * Ids in the one form PostgreSQL's `uuid` accepts and this API writes (8-4-4-4-12 hex digits).
 * Ajv's `uuid` format also takes `urn:uuid:…`, which PostgreSQL refuses; the validator's `uuid`
 * format is redefined to this pattern too, and the pattern documents it in the OpenAPI document.
 */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const Uuid = Type.String({ format: 'uuid', pattern: UUID_PATTERN, description: 'UUID, 8-4-4-4-12 hex digits' });

/** Schedule names appear in `/v1/schedules/by-name/{name}`: no "/" and no control characters. */
export const SCHEDULE_NAME_PATTERN = '^[^/\\u0000-\\u001f]+$';

/** What a value that fails one of the patterns above is told, instead of the bare regular expression. */
export const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
	[QUEUE_NAME_PATTERN]: 'must be 1–64 letters, digits, ".", "_" or "-", and not "." or ".."',
	[UUID_PATTERN]: 'must be a UUID written as 8-4-4-4-12 hex digits',
	[SCHEDULE_NAME_PATTERN]: 'must not contain "/" or control characters',
};

/**
 * The validator keyword that bounds a free-form JSON field's nesting (PAYLOAD_MAX_DEPTH). It is an
 * OpenAPI extension (`x-…`), so the document stays valid and shows which fields it applies to.
 */
export const BOUNDED_NESTING = 'x-bounded-nesting';

/** Any JSON value (a payload), nested at most PAYLOAD_MAX_DEPTH levels. */
export function JsonValue(options: TSchemaOptions = {}) {
	return Type.Unknown({ ...options, [BOUNDED_NESTING]: true });
}

/** A task type (what handlers switch on); the same bounds wherever a task name is given. */
export function taskNameSchema(description: string) {
	return Type.String({ minLength: 1, maxLength: 200, description });
}

/** A value or null (a field the response always carries, null when unset). */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

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
export const AsyncTimeoutSeconds = Type.Integer({
	minimum: 1,
	maximum: 86400,
	description: 'How long an attempt the handler answered with 202 stays open without a report or heartbeat, 1–86400 s (default 3600)',
});
/** A key grouping tasks for per-key limits (and debounce groups): 1–200 characters. */
export const ConcurrencyKey = Type.String({
	minLength: 1,
	maxLength: 200,
	description: "Tasks sharing a key obey the queue's keyConcurrency and keyRateLimit, e.g. a customer id (1–200 characters)",
});

export const ErrorBody = Type.Object({
	error: Type.Object({
		code: Type.String(),
		message: Type.String(),
		details: Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
	}),
});

/**
 * Every 4xx a route can answer, for the OpenAPI document (routes with path parameters also answer
 * 414 for an over-long one; the server adds it to their documents).
 */
export const errorResponses = {
	400: ErrorBody,
	401: ErrorBody,
	404: ErrorBody,
	409: ErrorBody,
	413: ErrorBody,
	415: ErrorBody,
	/** The database is not reachable (restarting, say): nothing was written; retry after `Retry-After`. */
	503: ErrorBody,
};

/**
 * A 204's body: none. Documented as `null`; typed void so that the route type checks a handler's
 * bare `reply.code(204).send()`.
 */
export const NoContent = Type.Unsafe<void>(Type.Null());

/** A list's paging cursor: opaque, as returned in `nextCursor` (a schedule name's cursor can pass 1,000 characters). */
export const Cursor = Type.String({ minLength: 1, maxLength: 2048, description: 'The nextCursor of the previous page' });

export const ListQuery = {
	limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
	cursor: Type.Optional(Cursor),
};
