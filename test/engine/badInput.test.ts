import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, TEST_API_KEY, type TestEngine } from '../helpers/engine.js';

/**
 * Bad input is a 4xx in the error shape, naming the field, and writes nothing — never a 500
 * (README, "The API"). Each case here used to reach PostgreSQL and fail there.
 */

let te: TestEngine;
let taskId: string;
let batchId: string;
let scheduleId: string;
let handlerId: string;

interface ErrorReply {
	status: number;
	body: { error: { code: string; message: string; details: { field: string; message: string }[] } };
}

const json = { 'content-type': 'application/json' };

/** Sends `text` as the body, byte for byte (for escapes a JS object cannot hold as intended). */
function raw(method: string, url: string, text: string): Promise<ErrorReply> {
	return te.api(method, url, text, { headers: json });
}

/** Row counts of every table of the engine's schema and its pg-boss schema. */
async function countRows(): Promise<Record<string, number>> {
	const { rows: tables } = await te.engine.pool.query<{ schema: string; name: string }>(
		`SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
		 WHERE table_schema IN ($1::text, $1::text || '_pgboss') AND table_type = 'BASE TABLE' ORDER BY 1, 2`,
		[te.schema],
	);
	const counts: Record<string, number> = {};
	for (const t of tables) {
		const { rows } = await te.engine.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t.schema}"."${t.name}"`);
		counts[`${t.schema}.${t.name}`] = rows[0].n;
	}
	return counts;
}

/** A 400 in the error shape whose first problem is `field`, named in both messages. */
function expectFieldError(res: ErrorReply, field: string, status = 400): void {
	expect(res.status, JSON.stringify(res.body)).toBe(status);
	const { error } = res.body;
	expect(typeof error.code).toBe('string');
	const problem = error.details.find((d) => d.field === field);
	expect(problem, `no problem named ${field} in ${JSON.stringify(error.details)}`).toBeDefined();
	expect(problem?.message).toContain(field);
	expect(error.message).toContain(error.details[0].field);
}

/** Sends the request target exactly as written over real HTTP (no URL normalisation on the way). */
async function verbatim(method: string, path: string): Promise<ErrorReply> {
	const { port } = new URL(te.engine.server.listeningOrigin);
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port, method, path, headers: { authorization: `Bearer ${TEST_API_KEY}` } }, (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (chunk: string) => (text += chunk));
			res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
		});
		req.on('error', reject);
		req.end();
	});
}

function nested(levels: number): string {
	return '['.repeat(levels) + ']'.repeat(levels);
}

beforeAll(async () => {
	te = await startTestEngine({}, { background: false });
	await te.engine.server.listen({ host: '127.0.0.1', port: 0 });
	expect((await te.api('POST', '/v1/queues', { name: 'q' })).status).toBe(201);
	taskId = (await te.api('POST', '/v1/tasks', { queue: 'q', name: 'n' })).body.id;
	batchId = (await te.api('POST', '/v1/batches', { queue: 'q', name: 'b', chunkSize: 1, open: true })).body.id;
	scheduleId = (await te.api('POST', '/v1/schedules', { name: 's', queue: 'q', everySeconds: 3600, paused: true })).body.id;
	handlerId = (await te.api('POST', '/v1/queues/q/handlers', { url: 'http://127.0.0.1:9/h' })).body.id;
});
afterAll(async () => te?.stop());

describe('NUL and lone surrogates', () => {
	const cases: [string, string, string, string][] = [
		// method, url, raw JSON body, field named
		['POST', '/v1/tasks', '{"queue":"q","name":"a\\u0000b"}', 'name'],
		['POST', '/v1/tasks', '{"queue":"q","name":"n","payload":{"a":{"b":["x","y\\u0000"]}}}', 'payload.a.b[1]'],
		['POST', '/v1/tasks', '{"queue":"q","name":"n","payload":{"a":{"k\\u0000":1}}}', 'payload.a["k\\u0000"]'],
		['POST', '/v1/tasks', '{"queue":"q","name":"n","idempotencyKey":"k\\u0000"}', 'idempotencyKey'],
		['POST', '/v1/tasks', '{"queue":"q","name":"\\ud800"}', 'name'],
		['POST', '/v1/tasks', '{"queue":"q","name":"n","payload":{"a":"ok \\udc00"}}', 'payload.a'],
		['POST', '/v1/tasks', '{"queue":"q","name":"n","payload":{"\\ud83d":true}}', 'payload["\\ud83d"]'],
		['POST', '/v1/tasks/bulk', '{"tasks":[{"queue":"q","name":"n"},{"queue":"q","name":"n","payload":{"x":"\\u0000"}}]}', 'tasks[1].payload.x'],
		['POST', '/v1/batches', '{"queue":"q","name":"b","chunkSize":1,"items":[1,2,"\\u0000"]}', 'items[2]'],
		['POST', '/v1/batches', '{"queue":"q","name":"b","chunkSize":1,"items":[1],"payload":{"p":"\\ud800"}}', 'payload.p'],
		['POST', '/v1/schedules', '{"name":"s2","queue":"q","everySeconds":60,"payload":{"p":"\\u0000"}}', 'payload.p'],
		['POST', '/v1/schedules', '{"name":"s2","queue":"q","everySeconds":60,"taskName":"t\\u0000"}', 'taskName'],
		['PUT', '/v1/schedules/by-name/s3', '{"queue":"q","everySeconds":60,"taskName":"\\udfff"}', 'taskName'],
		['POST', '/v1/queues/q/handlers', '{"url":"http://127.0.0.1:9/\\u0000"}', 'url'],
		['POST', '/v1/dead-letters/redrive', '{"signature":"sig_\\u0000"}', 'signature'],
	];

	it.each(cases)('%s %s %s → 400 naming %s', async (method, url, body, field) => {
		const before = await countRows();
		expectFieldError(await raw(method, url, body), field);
		expect(await countRows()).toEqual(before);
	});

	it('a NUL or a broken %-sequence in the query string', async () => {
		expectFieldError(await te.api('GET', '/v1/tasks?name=%00'), 'querystring.name');
		expectFieldError(await te.api('GET', '/v1/tasks?queue=q%00'), 'querystring.queue');
		expectFieldError(await te.api('GET', '/v1/batches?queue=%00'), 'querystring.queue');
		expectFieldError(await te.api('GET', '/v1/dead-letters?queue=%00'), 'querystring.queue');
		expectFieldError(await te.api('GET', '/v1/schedules?queue=%00'), 'querystring.queue');
		// Broken %-encoding used to reach the filter as raw text.
		expectFieldError(await te.api('GET', '/v1/tasks?name=%ED%A0%80'), 'querystring.name');
		expectFieldError(await te.api('GET', '/v1/tasks?queue=%zz'), 'querystring.queue');
		expectFieldError(await te.api('DELETE', '/v1/queues/q?force=%E2%82'), 'querystring.force');
	});

	it('a NUL in a path parameter', async () => {
		expectFieldError(await te.api('GET', '/v1/schedules/by-name/a%00b'), 'params.name');
		expectFieldError(await te.api('GET', '/v1/queues/q%00'), 'params.name');
	});
});

describe('dates', () => {
	it('year 0000, valid ISO 8601 but not a PostgreSQL timestamp, is a 400 naming the field', async () => {
		const before = await countRows();
		expectFieldError(await te.api('POST', '/v1/tasks', { queue: 'q', name: 'n', runAt: '0000-01-01T00:00:00Z' }), 'runAt');
		expectFieldError(await te.api('POST', '/v1/schedules', { name: 'y0', queue: 'q', everySeconds: 60, startAt: '0000-06-01T00:00:00Z' }), 'startAt');
		expect(await countRows()).toEqual(before);
		expect((await te.api('POST', '/v1/tasks', { queue: 'q', name: 'n', runAt: '0001-01-01T00:00:00Z' })).status).toBe(201);
	});
});

describe('bytes that are not UTF-8', () => {
	it('in a JSON body are a 400, not silently replaced', async () => {
		const before = await countRows();
		for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
			const body = Buffer.concat([Buffer.from('{"queue":"q","name":"n'), Buffer.from(bytes), Buffer.from('"}')]);
			const res = (await te.api('POST', '/v1/tasks', body, { headers: json })) as ErrorReply;
			expect(res.status).toBe(400);
			expect(res.body.error.code).toBe('malformed_json');
		}
		expect(await countRows()).toEqual(before);
	});
});

describe('nesting', () => {
	it('a payload nested 10,000 levels is a 400 naming it, wherever it is', async () => {
		const deep = nested(10_000);
		const before = await countRows();
		expectFieldError(await raw('POST', '/v1/tasks', `{"queue":"q","name":"n","payload":${deep}}`), 'payload');
		expectFieldError(await raw('POST', '/v1/tasks/bulk', `{"tasks":[{"queue":"q","name":"n","payload":${deep}}]}`), 'tasks[0].payload');
		expectFieldError(await raw('POST', '/v1/batches', `{"queue":"q","name":"b","chunkSize":1,"items":[1,${deep}]}`), 'items[1]');
		expectFieldError(await raw('POST', '/v1/batches', `{"queue":"q","name":"b","chunkSize":1,"items":[1],"payload":{"a":${deep}}}`), 'payload');
		expectFieldError(await raw('POST', `/v1/batches/${batchId}/items`, `{"items":[${deep}]}`), 'items[0]');
		expectFieldError(await raw('POST', '/v1/schedules', `{"name":"deep","queue":"q","everySeconds":60,"payload":${deep}}`), 'payload');
		expectFieldError(await raw('PUT', `/v1/schedules/${scheduleId}`, `{"payload":${deep}}`), 'payload');
		// Deep where no free JSON is allowed: the type check answers, the depth never matters.
		expect((await raw('POST', '/v1/queues', `{"name":"deep","retry":${deep}}`)).status).toBe(400);
		expect((await raw('POST', '/v1/queues', `{"name":"deep","extra":${deep}}`)).status).toBe(400);
		expect(await countRows()).toEqual(before);
	});

	it('the bound is 100 levels by default and PAYLOAD_MAX_DEPTH changes it', async () => {
		expect((await raw('POST', '/v1/tasks', `{"queue":"q","name":"deep100","payload":${nested(100)}}`)).status).toBe(201);
		const res = await raw('POST', '/v1/tasks', `{"queue":"q","name":"deep101","payload":${nested(101)}}`);
		expectFieldError(res, 'payload');
		expect(res.body.error.message).toContain('100 levels');

		const shallow = await startTestEngine({ PAYLOAD_MAX_DEPTH: '3' }, { background: false });
		try {
			await shallow.api('POST', '/v1/queues', { name: 'q' });
			expect((await shallow.api('POST', '/v1/tasks', { queue: 'q', name: 'n', payload: { a: [{ c: 1 }] } })).status).toBe(201);
			const tooDeep = await shallow.api('POST', '/v1/tasks', { queue: 'q', name: 'n', payload: { a: [{ c: {} }] } });
			expect(tooDeep.status).toBe(400);
			expect(tooDeep.body.error.details[0]).toEqual({ field: 'payload', message: 'payload is nested deeper than 3 levels (PAYLOAD_MAX_DEPTH)' });
		} finally {
			await shallow.stop();
		}
	});
});

describe('ids', () => {
	const urn = 'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8';
	const braces = '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}';
	const unknown = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

	/** Every route with an id in its path, with a body it would accept. */
	async function idRoutes(): Promise<{ method: string; path: string; body?: unknown }[]> {
		const doc = (await te.api('GET', '/openapi.json', undefined, { auth: false })).body as { paths: Record<string, Record<string, unknown>> };
		const routes: { method: string; path: string; body?: unknown }[] = [];
		for (const [path, methods] of Object.entries(doc.paths)) {
			if (!path.includes('{id}')) continue;
			for (const method of Object.keys(methods)) {
				const body = path.endsWith('/items') ? { items: [1] } : method === 'put' ? { paused: true } : path.endsWith('/fail') ? { error: 'x' } : path.includes('{n}') ? {} : undefined;
				routes.push({ method: method.toUpperCase(), path: path.replace('{n}', '1'), body });
			}
		}
		return routes;
	}

	it('all 20 routes with an id in the path say which parameter is malformed (400) or unknown (404)', async () => {
		const routes = await idRoutes();
		expect(routes.length).toBe(20);
		const before = await countRows();
		for (const { method, path, body } of routes) {
			for (const bad of [urn, braces, '6BA7B8109DAD11D180B400C04FD430C8', 'x'.repeat(36), '%20']) {
				const url = path.replace('{name}', 'q').replace('{id}', encodeURIComponent(bad));
				const res = (await te.api(method, url, body)) as ErrorReply;
				expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBe(400);
				expectFieldError(res, 'params.id');
			}
			const res = (await te.api(method, path.replace('{name}', 'q').replace('{id}', unknown), body)) as ErrorReply;
			expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404);
			expect(res.body.error.message).toContain(unknown);
		}
		expect(await countRows()).toEqual(before);
	});

	it('ids inside a body are checked the same way', async () => {
		expectFieldError(await te.api('POST', '/v1/dead-letters/redrive', { ids: [taskId, urn] }), 'ids[1]');
		expectFieldError(await te.api('DELETE', '/v1/dead-letters', { ids: [braces] }), 'ids[0]');
	});

	it('upper-case ids are the same ids', async () => {
		expect((await te.api('GET', `/v1/tasks/${taskId.toUpperCase()}`)).status).toBe(200);
		expect((await te.api('GET', `/v1/queues/q/handlers/${handlerId.toUpperCase()}`)).status).toBe(200);
	});
});

describe("the router's own refusals", () => {
	it('invalid %-encoding in a path is a 400 in the error shape', async () => {
		for (const url of ['/v1/tasks/%zz', '/v1/queues/%E0%A4%A', '/v1/schedules/by-name/%']) {
			expectFieldError(await te.api('GET', url), 'path');
		}
	});

	it('a path parameter longer than any legal one is a 414 in the error shape', async () => {
		expectFieldError(await te.api('GET', `/v1/queues/${'a'.repeat(401)}`), 'path', 414);
		expectFieldError(await te.api('GET', `/v1/schedules/by-name/${'%3F'.repeat(401)}`), 'path', 414);
		expectFieldError(await te.api('GET', `/v1/schedules/by-name/${encodeURIComponent('😀'.repeat(200))}x`), 'path', 414);
	});

	it("what Node's HTTP parser refuses is answered in the error shape too", async () => {
		const { port } = new URL(te.engine.server.listeningOrigin);
		const exchange = (request: string) =>
			new Promise<string>((resolve, reject) => {
				const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request));
				let text = '';
				socket.setEncoding('utf8');
				socket.on('data', (chunk: string) => (text += chunk));
				socket.on('close', () => resolve(text));
				socket.on('error', reject);
			});
		const malformed = await exchange('GET /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nNot a header\r\n\r\n');
		expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
		expect(JSON.parse(malformed.slice(malformed.indexOf('\r\n\r\n') + 4)).error.code).toBe('malformed_request');
		const huge = await exchange(`GET /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`);
		expect(huge).toMatch(/^HTTP\/1\.1 431 /);
		expect(JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4)).error.code).toBe('headers_too_large');
	});

	it('a 200-character schedule name, the longest legal one, is reachable by name', async () => {
		for (const name of ['x'.repeat(200), '😀'.repeat(200), '?'.repeat(200), '%'.repeat(200)]) {
			const path = `/v1/schedules/by-name/${encodeURIComponent(name)}`;
			expect((await te.api('PUT', path, { queue: 'q', everySeconds: 60, paused: true })).status).toBe(201);
			expect((await te.api('GET', path)).body.name).toBe(name);
		}
	});

	it('documents 414 on the routes with a path parameter', async () => {
		const doc = (await te.api('GET', '/openapi.json', undefined, { auth: false })).body;
		expect(doc.paths['/v1/tasks/{id}'].get.responses).toHaveProperty('414');
		expect(doc.paths['/v1/queues/{name}'].get.responses).toHaveProperty('414');
		expect(doc.paths['/v1/tasks'].get.responses).not.toHaveProperty('414');
		const idParam = doc.paths['/v1/tasks/{id}'].get.parameters.find((p: { name: string }) => p.name === 'id');
		expect(idParam.schema.pattern).toMatch(/^\^\[0-9a-fA-F\]\{8\}-/);
	});
});

describe('queue names', () => {
	it('"." and ".." are refused wherever a queue name is given', async () => {
		const before = await countRows();
		for (const name of ['.', '..']) {
			expectFieldError(await te.api('POST', '/v1/queues', { name }), 'name');
			expectFieldError(await te.api('POST', '/v1/tasks', { queue: name, name: 'n' }), 'queue');
			expectFieldError(await te.api('POST', '/v1/tasks/bulk', { tasks: [{ queue: name, name: 'n' }] }), 'tasks[0].queue');
			expectFieldError(await te.api('POST', '/v1/batches', { queue: name, name: 'b', chunkSize: 1, items: [1] }), 'queue');
			expectFieldError(await te.api('POST', '/v1/schedules', { name: 'dots', queue: name, everySeconds: 60 }), 'queue');
			expectFieldError(await te.api('PUT', '/v1/schedules/by-name/dots', { queue: name, everySeconds: 60 }), 'queue');
			expectFieldError(await te.api('PUT', `/v1/schedules/${scheduleId}`, { queue: name }), 'queue');
			expectFieldError(await te.api('POST', '/v1/dead-letters/redrive', { queue: name }), 'queue');
			expectFieldError(await te.api('GET', `/v1/tasks?queue=${name}`), 'querystring.queue');
			expectFieldError(await te.api('GET', `/v1/schedules?queue=${name}`), 'querystring.queue');
			expectFieldError(await te.api('GET', `/v1/dead-letters?queue=${encodeURIComponent(name)}`), 'querystring.queue');
		}
		// URL clients resolve `.` and `..` away (a queue so named was unreachable); sent as they are,
		// they reach the router and are refused like any other malformed name.
		for (const path of ['/v1/queues/../health', '/v1/queues/./handlers', '/v1/queues/%2E%2E']) {
			expectFieldError(await verbatim('GET', path), 'params.name');
		}
		expect(await countRows()).toEqual(before);
		// Dots elsewhere stay allowed.
		expect((await te.api('POST', '/v1/queues', { name: '.hidden..name.' })).status).toBe(201);
	});
});

describe('strict requests', () => {
	it('unknown query parameters are refused like unknown body fields', async () => {
		expectFieldError(await te.api('GET', `/v1/tasks/${taskId}?verbose=1`), 'querystring.verbose');
		expectFieldError(await te.api('POST', `/v1/tasks/${taskId}/cancel?force=true`), 'querystring.force');
		expect((await te.api('GET', `/v1/tasks/${taskId}`)).body.state).toBe('queued');
	});

	it('a body sent to a route that takes none is refused, and the action is not taken', async () => {
		expectFieldError(await te.api('POST', `/v1/tasks/${taskId}/cancel`, { reason: 'x' }), 'reason');
		expectFieldError(await raw('POST', `/v1/tasks/${taskId}/cancel`, '[1]'), 'body');
		expectFieldError(await raw('POST', `/v1/schedules/${scheduleId}/run`, '"now"'), 'body');
		expect((await te.api('GET', `/v1/tasks/${taskId}`)).body.state).toBe('queued');
		// Nothing, or an empty object, is what clients send.
		expect((await te.api('POST', `/v1/schedules/${scheduleId}/pause`, {})).status).toBe(200);
		expect((await te.api('POST', `/v1/schedules/${scheduleId}/pause`)).status).toBe(200);
	});
});
