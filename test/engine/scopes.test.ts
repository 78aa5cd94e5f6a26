import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * API key scopes (README, "Security") on every route of the engine's own /openapi.json. The expected scope
 * of each route is written out here, independently of the engine's table: a route this list does
 * not know fails the test, so a new route gets a deliberate decision.
 */
const ADMIN = 'admin-key-scopes-test-000001';
const WRITE = 'write-key-scopes-test-000001';
const READ = 'read-key-scopes-test-0000001';
const KEYS = { admin: ADMIN, write: WRITE, read: READ } as const;
type Scope = keyof typeof KEYS;

const EXPECTED: Record<string, Scope | 'public'> = {
	'GET /v1/health': 'public',
	'GET /v1/health/ready': 'public',
	'GET /v1/health/queues': 'read',
	'POST /v1/queues': 'write', // default settings only; any other field needs admin (tested below)
	'GET /v1/queues': 'read',
	'GET /v1/queues/{name}': 'read',
	'PUT /v1/queues/{name}': 'admin',
	'DELETE /v1/queues/{name}': 'admin',
	'POST /v1/queues/{name}/pause': 'write',
	'POST /v1/queues/{name}/resume': 'write',
	'POST /v1/queues/{name}/rotate-secret': 'admin',
	'GET /v1/queues/{name}/health': 'read',
	'GET /v1/queues/{name}/history': 'read',
	'POST /v1/queues/{name}/handlers': 'write',
	'GET /v1/queues/{name}/handlers': 'read',
	'GET /v1/queues/{name}/handlers/{id}': 'read',
	'DELETE /v1/queues/{name}/handlers/{id}': 'write',
	'POST /v1/tasks': 'write',
	'POST /v1/tasks/bulk': 'write',
	'GET /v1/tasks': 'read',
	'GET /v1/tasks/{id}': 'read',
	'POST /v1/tasks/{id}/cancel': 'write',
	'POST /v1/tasks/{id}/retry': 'write',
	'POST /v1/tasks/{id}/attempts/{n}/complete': 'write',
	'POST /v1/tasks/{id}/attempts/{n}/fail': 'write',
	'POST /v1/tasks/{id}/attempts/{n}/heartbeat': 'write',
	'GET /v1/dead-letters': 'read',
	'POST /v1/dead-letters/redrive': 'write',
	'DELETE /v1/dead-letters': 'write',
	'POST /v1/batches': 'write',
	'GET /v1/batches': 'read',
	'GET /v1/batches/{id}': 'read',
	'POST /v1/batches/{id}/items': 'write',
	'POST /v1/batches/{id}/start': 'write',
	'POST /v1/batches/{id}/cancel': 'write',
	'POST /v1/batches/{id}/retry-failed': 'write',
	'POST /v1/schedules': 'write',
	'POST /v1/schedules/preview': 'read',
	'GET /v1/schedules': 'read',
	'GET /v1/schedules/{id}': 'read',
	'PUT /v1/schedules/{id}': 'write',
	'DELETE /v1/schedules/{id}': 'write',
	'GET /v1/schedules/by-name/{name}': 'read',
	'PUT /v1/schedules/by-name/{name}': 'write',
	'POST /v1/schedules/{id}/pause': 'write',
	'POST /v1/schedules/{id}/resume': 'write',
	'POST /v1/schedules/{id}/run': 'write',
	'GET /v1/schedules/{id}/next': 'read',
	'GET /v1/events': 'read',
	'GET /v1/whoami': 'read',
	'GET /metrics': 'read',
};

const RANK: Record<Scope, number> = { read: 0, write: 1, admin: 2 };

interface Operation {
	security?: unknown[];
	requestBody?: unknown;
	description?: string;
	responses?: Record<string, unknown>;
}

describe('API key scopes', () => {
	let te: TestEngine;
	let operations: { method: string; path: string; op: Operation }[];

	beforeAll(async () => {
		te = await startTestEngine({ API_KEYS: `${ADMIN},${WRITE}:write,${READ}:read` });
		const doc = (await te.api('GET', '/openapi.json', undefined, { auth: false })).body as { paths: Record<string, Record<string, Operation>> };
		operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
		// Something for the reading routes to find, made with the admin key.
		expect((await te.api('POST', '/v1/queues', { name: 'vis' }, { auth: ADMIN })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/vis/handlers', { url: 'http://127.0.0.1:9/hook' }, { auth: ADMIN })).status).toBe(201);
	});
	afterAll(async () => te?.stop());

	it('knows every route of the OpenAPI document', () => {
		expect(operations.length).toBeGreaterThan(40);
		const unknown = operations.map((o) => `${o.method} ${o.path}`).filter((route) => !(route in EXPECTED));
		expect(unknown, 'routes without an expected scope in this test').toEqual([]);
	});

	it('documents the scope and the 403 of every protected route', () => {
		for (const { method, path, op } of operations) {
			const expected = EXPECTED[`${method} ${path}`];
			if (expected === 'public') {
				expect(op.security, path).toEqual([]);
				continue;
			}
			expect(op.description, `${method} ${path}`).toContain(`Needs an API key with scope \`${expected}\``);
			if (path !== '/metrics') expect(Object.keys(op.responses ?? {}), `${method} ${path}`).toContain('403');
		}
	});

	it('allows each route to the scopes that include its own and answers 403 forbidden to the others', async () => {
		const checked: string[] = [];
		for (const { method, path, op } of operations) {
			const expected = EXPECTED[`${method} ${path}`];
			if (expected === 'public' || path === '/v1/events') continue; // events: a stream, checked by its own tests
			// Ids and names nothing has: an allowed call is answered 4xx by the route itself (never 401/403), and changes nothing.
			const url = path
				.replace('{name}', 'no-such-queue')
				.replace('{id}', '00000000-0000-4000-8000-000000000000')
				.replace('{n}', '1');
			for (const scope of ['read', 'write', 'admin'] as const) {
				const res = await te.api(method, url, op.requestBody ? {} : undefined, { auth: KEYS[scope] });
				const route = `${method} ${path} with a ${scope} key`;
				if (RANK[scope] >= RANK[expected]) {
					expect([401, 403], `${route}: ${JSON.stringify(res.body)}`).not.toContain(res.status);
					expect(res.status, `${route}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
				} else {
					expect(res.status, route).toBe(403);
					expect(res.body.error, route).toMatchObject({ code: 'forbidden', message: `This API key has scope "${scope}"; ${method} ${path.replace(/\{(\w+)\}/g, ':$1')} needs scope "${expected}"` });
				}
				checked.push(route);
			}
		}
		expect(checked.length).toBeGreaterThan(120);
		// A bad or missing key is still a 401, whatever the route.
		expect((await te.api('GET', '/v1/tasks', undefined, { auth: 'not-a-key-of-this-engine' })).status).toBe(401);
		expect((await te.api('PUT', '/v1/queues/vis', {}, { auth: false })).status).toBe(401);
	});

	it('creates a queue with default settings with a write key; settings need admin', async () => {
		const plain = await te.api('POST', '/v1/queues', { name: 'by-writer' }, { auth: WRITE });
		expect(plain.status).toBe(201);
		expect(plain.body.secret).toBeUndefined();
		const tuned = await te.api('POST', '/v1/queues', { name: 'tuned', concurrency: 5, retry: { limit: 1 } }, { auth: WRITE });
		expect(tuned.status).toBe(403);
		expect(tuned.body.error.code).toBe('forbidden');
		expect(tuned.body.error.details.map((d: { field: string }) => d.field)).toEqual(['concurrency', 'retry']);
		expect((await te.api('GET', '/v1/queues/tuned', undefined, { auth: ADMIN })).status).toBe(404);
		expect((await te.api('POST', '/v1/queues', { name: 'tuned', concurrency: 5 }, { auth: ADMIN })).body.concurrency).toBe(5);
		// An existing queue is still a 409 for a writer (the Task Trigger relies on it).
		expect((await te.api('POST', '/v1/queues', { name: 'tuned' }, { auth: WRITE })).body.error.code).toBe('queue_exists');
		expect((await te.api('POST', '/v1/queues', { name: 'by-reader' }, { auth: READ })).status).toBe(403);
		// Pause and resume are a writer's.
		expect((await te.api('POST', '/v1/queues/by-writer/pause', undefined, { auth: WRITE })).body.paused).toBe(true);
		expect((await te.api('POST', '/v1/queues/by-writer/resume', undefined, { auth: WRITE })).body.paused).toBe(false);
	});

	it('shows queue secrets to admin keys only, handler secrets to write keys too, and no secret to read keys', async () => {
		const secretOf = async (url: string, key: string) => {
			const res = await te.api('GET', url, undefined, { auth: key });
			expect(res.status, url).toBe(200);
			return res.body.items ? res.body.items.map((i: { secret?: string }) => i.secret) : [res.body.secret];
		};
		const whsec = expect.stringMatching(/^whsec_/);
		const queues = '/v1/queues?limit=500';
		expect(await secretOf('/v1/queues/vis', ADMIN)).toEqual([whsec]);
		expect(await secretOf('/v1/queues/vis', WRITE)).toEqual([undefined]);
		expect(await secretOf('/v1/queues/vis', READ)).toEqual([undefined]);
		expect((await secretOf(queues, ADMIN)).every((s: unknown) => typeof s === 'string')).toBe(true);
		expect((await secretOf(queues, WRITE)).every((s: unknown) => s === undefined)).toBe(true);
		expect((await secretOf(queues, READ)).every((s: unknown) => s === undefined)).toBe(true);

		expect(await secretOf('/v1/queues/vis/handlers', ADMIN)).toEqual([whsec]);
		expect(await secretOf('/v1/queues/vis/handlers', WRITE)).toEqual([whsec]);
		expect(await secretOf('/v1/queues/vis/handlers', READ)).toEqual([undefined]);
		const [handler] = (await te.api('GET', '/v1/queues/vis/handlers', undefined, { auth: ADMIN })).body.items;
		expect(await secretOf(`/v1/queues/vis/handlers/${handler.id}`, WRITE)).toEqual([whsec]);
		expect(await secretOf(`/v1/queues/vis/handlers/${handler.id}`, READ)).toEqual([undefined]);
		// The rest of the answer is all there.
		expect((await te.api('GET', '/v1/queues/vis', undefined, { auth: READ })).body).toMatchObject({ name: 'vis', concurrency: 10, paused: false });

		// Registering (what the Task Trigger does with a write key) answers with the handler's secret.
		const registered = await te.api('POST', '/v1/queues/vis/handlers', { url: 'http://127.0.0.1:9/other' }, { auth: WRITE });
		expect(registered.status).toBe(201);
		expect(registered.body.secret).toMatch(/^whsec_/);
		// A write key cannot get at the queue secret by rotating it either.
		expect((await te.api('POST', '/v1/queues/vis/rotate-secret', undefined, { auth: WRITE })).status).toBe(403);
	});

	it('asks for a read key on /metrics', async () => {
		expect((await te.api('GET', '/metrics', undefined, { auth: false })).status).toBe(401);
		expect((await te.api('GET', '/metrics', undefined, { auth: READ })).status).toBe(200);
	});
});
