/**
 * What an API key may do (README, "Security"). Each key has one scope; a scope includes the ones below it.
 *
 * - `admin`: everything, including queue settings and queue signing secrets.
 * - `write`: tasks, schedules, batches, dead letters, handlers (with their secrets); may create a
 *   queue with default settings (explicitly, or on enqueue with AUTO_CREATE_QUEUES) and pause or
 *   resume queues. Never sees or rotates a queue's secret.
 * - `read`: GETs and previews; every `secret` field is left out of its answers.
 */
export const SCOPES = ['admin', 'write', 'read'] as const;
export type Scope = (typeof SCOPES)[number];

const RANK: Record<Scope, number> = { read: 0, write: 1, admin: 2 };

export function isScope(value: string): value is Scope {
	return (SCOPES as readonly string[]).includes(value);
}

/** True when a key of scope `have` may do what needs `need`. */
export function scopeAllows(have: Scope, need: Scope): boolean {
	return RANK[have] >= RANK[need];
}

/**
 * Routes whose scope differs from the rule "a GET needs `read`, anything else `write`". Keyed by
 * method and route pattern as Fastify names them. A new route that changes queue settings or
 * reveals queue secrets must be listed here (the scope test lists every route of /openapi.json and
 * fails on one it does not know).
 */
const EXCEPTIONS: Readonly<Record<string, Scope>> = {
	'PUT /v1/queues/:name': 'admin',
	'DELETE /v1/queues/:name': 'admin',
	'POST /v1/queues/:name/rotate-secret': 'admin',
	// Reads, though sent with POST: a preview computes and stores nothing.
	'POST /v1/schedules/preview': 'read',
};

/** The least scope a route needs. `url` is the route pattern (`/v1/queues/:name`), never the raw path. */
export function requiredScope(method: string, url: string): Scope {
	const listed = EXCEPTIONS[`${method.toUpperCase()} ${url}`];
	if (listed) return listed;
	return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

/**
 * `POST /v1/queues` with a `write` key creates a queue with default settings only: any field but
 * `name` is a queue setting, which only `admin` may choose. Returns the fields that need `admin`.
 */
export function adminOnlyQueueFields(method: string, url: string, body: unknown): string[] {
	if (method !== 'POST' || url !== '/v1/queues' || body === null || typeof body !== 'object') return [];
	return Object.keys(body).filter((field) => field !== 'name');
}

/**
 * Which scope sees the `secret` fields of a route's answer: a handler's secret (what the Task
 * Trigger verifies deliveries with) from `write` up, a queue's secret only with `admin`.
 */
export function secretScope(url: string): Scope {
	return /^\/v1\/queues\/:name\/handlers(\/|$)/.test(url) ? 'write' : 'admin';
}

/** Routes whose answers carry `secret` fields (a queue or handler, or a list of them). */
export function answersWithSecrets(url: string): boolean {
	return url === '/v1/queues' || (url.startsWith('/v1/queues/:name') && !url.endsWith('/health') && !url.endsWith('/history'));
}
