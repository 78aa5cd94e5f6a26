import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, TEST_API_KEY, type TestEngine } from '../helpers/engine.js';
import {
	badCursors,
	badQueryValues,
	bodyMutations,
	jsonText,
	MALFORMED_JSON,
	RAW_MARK,
	sample,
	type Schema,
	WRONG_CONTENT_TYPES,
} from './badInputMutations.js';
import { seededRandom } from './support.js';

/**
 * A bad-input fuzzer driven by the engine's own `/openapi.json`: for every route and method of the
 * document it sends requests that are invalid by construction — wrong types, missing and unknown
 * fields, NUL and lone surrogates in values and keys, huge and negative numbers, deep nesting,
 * overlong strings, malformed ids and cursors, wrong content types, malformed JSON and bytes that
 * are not UTF-8 — over real HTTP, to real seeded ids.
 *
 * It asserts: no 5xx; every answer a 4xx in the error shape (code, message, details; each detail's
 * message names its field); the mutated field named where the mutation has one; and nothing
 * written (row counts of every table of both schemas, and the content of the engine's tables).
 *
 * Every URL a request carries (handler, task and callback URLs) is `http://127.0.0.1:<closed port>/`,
 * so even a request that turned out valid could send nothing off the machine. The generator is
 * seeded: a run is reproducible, and its figures are printed at the end.
 */

const SEED = 20_261_204;
const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

// ---------------------------------------------------------------------------------------------
// Requests

interface FuzzRequest {
	route: string; // "POST /v1/tasks/{id}/cancel"
	kind: string;
	method: string;
	path: string; // as sent, already encoded
	headers: Record<string, string>;
	body?: Buffer;
	/** The field the answer must name, when the mutation has one (`a|b`: either; a prefix match for keys). */
	field?: string;
	/** Routes that take no input at all ignore junk query strings: any non-5xx answer will do. */
	ignorable?: boolean;
}

interface Reply {
	status: number;
	text: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let port = 0;

/** One request over real HTTP; no answer within 10 s, or a broken connection, is status 0. */
function send(r: FuzzRequest): Promise<Reply> {
	return new Promise((resolve) => {
		// An explicit length: Node sends a DELETE's body unframed otherwise.
		const headers = r.body === undefined ? r.headers : { ...r.headers, 'content-length': String(r.body.length) };
		const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent, timeout: 10_000 }, (res) => {
			const chunks: Buffer[] = [];
			res.on('data', (c: Buffer) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
			res.on('error', (error) => resolve({ status: 0, text: String(error) }));
		});
		req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
		req.on('error', (error) => resolve({ status: 0, text: String(error) }));
		req.end(r.body);
	});
}

// ---------------------------------------------------------------------------------------------

let te: TestEngine;
let closedUrl = '';
const seeds = { queue: 'fz-a', schedule: 'fz-schedule', taskId: '', batchId: '', scheduleId: '', handlerId: '' };

async function closedPort(): Promise<number> {
	return new Promise((resolve) => {
		const server = net.createServer().listen(0, '127.0.0.1', () => {
			const { port: p } = server.address() as net.AddressInfo;
			server.close(() => resolve(p));
		});
	});
}

/** Valid bodies per route, with every optional field set so the walk reaches them all. */
function baselines(): Record<string, unknown> {
	const task = () => ({
		queue: seeds.queue,
		name: 'fz-task',
		payload: { text: 'hello', list: [1, { deep: 'x' }] },
		url: `${closedUrl}task`,
		delaySeconds: 60,
		priority: 'normal',
		idempotencyKey: 'fz-key',
		retry: { limit: 1, delaySeconds: 5, backoff: 'exponential', maxDelaySeconds: 60 },
		timeoutSeconds: 30,
	});
	const selector = { queue: seeds.queue, ids: [seeds.taskId], signature: 'sig_0123456789ab' };
	return {
		'POST /v1/queues': {
			name: 'fz-new',
			retry: { limit: 1, delaySeconds: 5, backoff: 'fixed', maxDelaySeconds: 60 },
			timeoutSeconds: 30,
			priority: 'high',
			concurrency: 2,
			rateLimit: { max: 5, periodSeconds: 60 },
			paused: true,
		},
		'PUT /v1/queues/{name}': { retry: { limit: 2 }, timeoutSeconds: 30, priority: 5, concurrency: 3, rateLimit: { max: 1, periodSeconds: 1 }, paused: true },
		'POST /v1/queues/{name}/handlers': { url: `${closedUrl}handler`, events: ['task'], mode: 'production' },
		'POST /v1/tasks': task(),
		'POST /v1/tasks/bulk': { tasks: [task(), { ...task(), idempotencyKey: 'fz-key-2' }] },
		'DELETE /v1/dead-letters': selector,
		'POST /v1/dead-letters/redrive': selector,
		'POST /v1/batches': {
			queue: seeds.queue,
			name: 'fz-batch',
			items: [{ n: 1 }, 'two', [3]],
			chunkSize: 1,
			concurrency: 1,
			delayBetweenChunksSeconds: 0,
			url: `${closedUrl}chunk`,
			callbackUrl: `${closedUrl}done`,
			payload: { greeting: 'hi' },
			open: false,
			priority: 'low',
			retry: { limit: 1 },
			timeoutSeconds: 10,
		},
		'POST /v1/batches/{id}/items': { items: [{ n: 3 }] },
		'POST /v1/schedules': {
			name: 'fz-new-schedule',
			queue: seeds.queue,
			taskName: 'tick',
			payload: { a: 1 },
			url: `${closedUrl}schedule`,
			priority: 1,
			retry: { limit: 1 },
			timeoutSeconds: 10,
			cron: '*/5 * * * *',
			timezone: 'Europe/Berlin',
			startAt: '2030-01-01T00:00:00Z',
			endAt: '2031-01-01T00:00:00Z',
			misfire: 'skip',
			overlap: 'allow',
			paused: true,
		},
		'PUT /v1/schedules/{id}': { paused: true, payload: { a: 2 }, retry: { limit: 2 }, cron: '*/10 * * * *' },
		'PUT /v1/schedules/by-name/{name}': { queue: seeds.queue, everySeconds: 3600, payload: { a: 1 }, paused: true, retry: { limit: 1 } },
		// (cron and everySeconds exclude each other: the interval's bounds are walked through the upsert above.)
		'POST /v1/tasks/{id}/attempts/{n}/fail': { error: 'upstream said no', retry: true, retryAfterSeconds: 5 },
		'POST /v1/tasks/{id}/attempts/{n}/heartbeat': { extendSeconds: 60, progress: { percent: 10, message: 'working' } },
		'POST /v1/schedules/preview': { cron: '*/5 * * * *', timezone: 'Europe/Berlin', startAt: '2030-01-01T00:00:00Z', endAt: '2031-01-01T00:00:00Z', count: 5 },
	};
}

/** The seeded value of a path parameter. */
function paramValue(path: string, name: string): string {
	if (name === 'name') return path.startsWith('/v1/schedules/by-name/') ? seeds.schedule : seeds.queue;
	// An attempt number (reports on attempts): the seeded task has not started, so attempt 1 is a 404.
	if (name === 'n') return '1';
	if (path.includes('/handlers/')) return seeds.handlerId;
	if (path.startsWith('/v1/tasks/')) return seeds.taskId;
	if (path.startsWith('/v1/batches/')) return seeds.batchId;
	if (path.startsWith('/v1/schedules/')) return seeds.scheduleId;
	throw new Error(`no seed for {${name}} in ${path}`);
}

const fill = (path: string, values: Record<string, string>) => path.replace(/\{(\w+)\}/g, (_, name: string) => values[name]);

/** Bad path parameters, as sent (already %-encoded where it matters). */
function badParams(name: string, path: string): string[] {
	const common = ['%00', '%ED%A0%80', '%zz', '%', 'x'.repeat(401), '%01'];
	if (name === 'id') {
		const real = paramValue(path, 'id');
		return [...common, '%20', 'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8', '%7B6ba7b810-9dad-11d1-80b4-00c04fd430c8%7D', real.replace(/-/g, ''), `${real.slice(0, -1)}g`, 'x'.repeat(36), '-1', '0', '..', `${real}%00`];
	}
	if (name === 'n') return [...common, '0', '-1', '1.5', 'x', '2147483648', '%20'];
	if (path.startsWith('/v1/schedules/by-name/')) return [...common, 'x'.repeat(201), 'a%2Fb', 'tab%09name'];
	// (A schedule name may be any text without "/" or control characters, " " included.)
	return [...common, '%20', '..', '.', '%2E%2E', 'a%20b', 'x'.repeat(65), '%F0%9F%98%80', 'a%2Fb'];
}

/** Every request the fuzzer sends, from the document. */
function generate(doc: { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema: Schema }[]; requestBody?: { content: Record<string, { schema: Schema }> } }>> }, maxDepth: number): FuzzRequest[] {
	const requests: FuzzRequest[] = [];
	const auth = { authorization: `Bearer ${TEST_API_KEY}` };
	const json = { ...auth, 'content-type': 'application/json' };
	const known = baselines();
	for (const [path, operations] of Object.entries(doc.paths)) {
		for (const [lower, op] of Object.entries(operations)) {
			const method = lower.toUpperCase();
			const route = `${method} ${path}`;
			const params = (op.parameters ?? []).filter((p) => p.in === 'path');
			const query = (op.parameters ?? []).filter((p) => p.in === 'query');
			const bodySchema = op.requestBody?.content['application/json']?.schema;
			const values = Object.fromEntries(params.map((p) => [p.name, encodeURIComponent(paramValue(path, p.name))]));
			const goodPath = fill(path, values);
			const good = bodySchema ? (known[route] ?? sample(bodySchema, closedUrl)) : undefined;
			const goodBody = good === undefined ? undefined : jsonText(good);
			const add = (r: Omit<FuzzRequest, 'route' | 'method'> & { method?: string }) =>
				requests.push({ route, method, ...r, headers: r.headers, body: r.body });
			const withBody = goodBody === undefined ? { headers: auth } : { headers: json, body: goodBody };
			const inputless = params.length === 0 && query.length === 0 && !bodySchema && method === 'GET';

			// Junk query parameters: refused everywhere but on the input-less probes and /metrics.
			add({ kind: 'unknown query parameter', path: `${goodPath}?zzUnknown=1`, ...withBody, field: inputless ? undefined : 'querystring.zzUnknown', ignorable: inputless });
			if (inputless) continue;

			for (const p of params) {
				for (const bad of badParams(p.name, path)) {
					add({ kind: `bad path parameter ${p.name}`, path: fill(path, { ...values, [p.name]: bad }), ...withBody, field: [`params.${p.name}`, 'path'].join('|') });
				}
			}
			for (const q of query) {
				const bads = q.name === 'cursor' ? badCursors(random) : badQueryValues(q.schema);
				for (const bad of bads) {
					add({ kind: `bad query ${q.name}`, path: `${goodPath}?${q.name}=${bad}`, ...withBody, field: q.name === 'cursor' ? 'cursor|querystring.cursor' : `querystring.${q.name}` });
				}
				if (q.schema.type !== 'array') add({ kind: `repeated query ${q.name}`, path: `${goodPath}?${q.name}=1&${q.name}=2`, ...withBody, field: `querystring.${q.name}|cursor` });
			}
			if (method === 'GET') continue;

			// Bodies: wrong content types and malformed JSON on every route that can take a body.
			const text = goodBody ?? Buffer.from('{"zz":1}');
			for (const type of WRONG_CONTENT_TYPES) add({ kind: `content-type ${type}`, path: goodPath, headers: { ...auth, 'content-type': type }, body: text });
			add({ kind: 'body without content-type', path: goodPath, headers: auth, body: text });
			add({ kind: 'empty JSON body', path: goodPath, headers: json, body: Buffer.alloc(0) });
			for (const [kind, body] of MALFORMED_JSON) add({ kind: `malformed JSON: ${kind}`, path: goodPath, headers: json, body });
			add({ kind: 'body over the limit', path: goodPath, headers: json, body: Buffer.from(JSON.stringify({ big: 'x'.repeat(1024 * 1024 + 10) })) });

			if (!bodySchema) {
				// A route that takes no body: anything but nothing (or {} / null) is refused.
				for (const [kind, value, field] of [
					['unexpected body field', { zz: 1 }, 'zz'],
					['unexpected body field (NUL key)', { 'a\u0000': 1 }, '["a\\u0000"]'],
					['unexpected array body', [1], 'body'],
					['unexpected string body', 'now', 'body'],
					['unexpected number body', 42, 'body'],
					['unexpected deep body', { a: RAW_MARK }, 'a'],
				] as [string, unknown, string][]) {
					add({ kind, path: goodPath, headers: json, body: jsonText(value, '['.repeat(10_000) + ']'.repeat(10_000)), field });
				}
				continue;
			}
			for (const [kind, value] of [
				['body is an array', [good]],
				['body is a string', 'text'],
				['body is a number', 42],
				['body is null', null],
			] as [string, unknown][]) {
				add({ kind, path: goodPath, headers: json, body: jsonText(value), field: 'body' });
			}
			for (const m of bodyMutations(bodySchema, good, [], { closedUrl, maxDepth })) add({ kind: m.kind, path: goodPath, headers: json, body: m.body, field: m.field });
		}
	}
	// Random bytes: a body of noise (never the empty forms `{}` / `null` a body-less route accepts)
	// and a query parameter of noise, on routes picked at random, with real ids.
	const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })));
	const noise = (length: number) => Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
	for (let i = 0; i < 300; i++) {
		const { method, path } = pick(routes.filter((r) => r.method !== 'GET'));
		const body = noise(1 + Math.floor(random() * 200));
		const text = body.toString('utf8').trim();
		if (text === '{}' || text === 'null' || text === '') continue;
		const goodPath = fill(path, Object.fromEntries([...path.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], encodeURIComponent(paramValue(path, m[1]))])));
		requests.push({ route: `${method} ${path}`, kind: 'random bytes as JSON', method, path: goodPath, headers: json, body });
	}
	for (let i = 0; i < 200; i++) {
		const { method, path } = pick(routes.filter((r) => !/^\/(metrics|v1\/health(\/ready)?)$/.test(r.path)));
		const goodPath = fill(path, Object.fromEntries([...path.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], encodeURIComponent(paramValue(path, m[1]))])));
		const junk = [...noise(1 + Math.floor(random() * 40))].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
		requests.push({ route: `${method} ${path}`, kind: 'random bytes in the query', method, path: `${goodPath}?zz${i}=${junk}`, headers: auth });
	}

	// Methods and paths no route has.
	for (const [method, path] of [
		['PATCH', '/v1/tasks'],
		['PATCH', `/v1/queues/${seeds.queue}`],
		['POST', '/v1/tasks/'],
		['GET', '/v1//tasks'],
		['GET', '/v1/tasks/%00/attempts'],
		['DELETE', '/v1/tasks'],
		['GET', '/v2/tasks'],
	] as const) {
		requests.push({ route: `${method} (no route)`, kind: 'no such route', method, path, headers: auth });
	}
	return requests;
}

/** Row counts of every table in the engine's schema and its pg-boss schema, and a digest of the engine's rows. */
async function snapshot(): Promise<Record<string, string>> {
	const { rows: tables } = await te.engine.pool.query<{ schema: string; name: string }>(
		`SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
		 WHERE table_schema IN ($1::text, $1::text || '_pgboss') AND table_type = 'BASE TABLE'`,
		[te.schema],
	);
	const out: Record<string, string> = {};
	for (const t of tables) {
		const table = `"${t.schema}"."${t.name}"`;
		const { rows } = await te.engine.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
		out[`rows ${t.schema}.${t.name}`] = String(rows[0].n);
		if (t.schema === te.schema) {
			// pg-boss keeps its own bookkeeping fresh; the engine's rows must not change at all.
			const digest = await te.engine.pool.query<{ d: string }>(`SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS d FROM ${table} x`);
			out[`content ${t.schema}.${t.name}`] = digest.rows[0].d;
		}
	}
	return out;
}

/** Tables that appear between snapshots (pg-boss's daily partitions) count as empty before. */
function changed(before: Record<string, string>, after: Record<string, string>): string[] {
	return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => (before[k] ?? '0') !== (after[k] ?? '0'));
}

describe('bad-input fuzzer over /openapi.json', () => {
	beforeAll(async () => {
		// The API alone: no delivery or schedule firing, so any row that changes was written by a request.
		te = await startTestEngine({}, { background: false });
		port = Number(new URL(await te.engine.server.listen({ host: '127.0.0.1', port: 0 })).port);
		closedUrl = `http://127.0.0.1:${await closedPort()}/`;
		const api = async (method: string, url: string, body?: unknown) => {
			const res = await te.api(method, url, body);
			expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
			return res.body as { id: string };
		};
		await api('POST', '/v1/queues', { name: seeds.queue, paused: true });
		await api('POST', '/v1/queues', { name: 'fz-b', paused: true });
		seeds.handlerId = (await api('POST', `/v1/queues/${seeds.queue}/handlers`, { url: `${closedUrl}seeded` })).id;
		seeds.taskId = (await api('POST', '/v1/tasks', { queue: seeds.queue, name: 'seeded', payload: { a: 1 }, delaySeconds: 3600 })).id;
		seeds.batchId = (await api('POST', '/v1/batches', { queue: seeds.queue, name: 'seeded', chunkSize: 1, open: true, items: [1, 2] })).id;
		seeds.scheduleId = (await api('POST', '/v1/schedules', { name: seeds.schedule, queue: seeds.queue, everySeconds: 3600, paused: true })).id;
	});
	afterAll(async () => {
		agent.destroy();
		await te?.stop();
	});

	it('answers ≥ 1,000 invalid requests over every route with a 4xx in the error shape, writing nothing', async () => {
		const docReply = await fetch(`http://127.0.0.1:${port}/openapi.json`);
		expect(docReply.status).toBe(200);
		const doc = (await docReply.json()) as Parameters<typeof generate>[0];
		const requests = generate(doc, te.engine.config.payloadMaxDepth);

		// Every URL inside a request points at a closed port on this machine.
		const urlsOffMachine = requests.filter((r) => {
			const text = r.body?.toString('utf8') ?? '';
			// A bounded scheme: an unbounded one backtracks quadratically over a megabyte of "x".
			return [...text.matchAll(/[a-z][a-z0-9+.-]{0,15}:\/\/[^"]*/gi)].some((m) => !/^http:\/\/(user:pw@)?127\.0\.0\.1:\d+\//.test(m[0]) || !m[0].includes(closedUrl.slice('http://'.length)));
		});
		expect(urlsOffMachine.map((r) => `${r.route} ${r.kind}`)).toEqual([]);

		const before = await snapshot();
		const byStatus = new Map<number, number>();
		const byRoute = new Map<string, number>();
		const byKind = new Map<string, number>();
		const findings: string[] = [];
		for (const r of requests) {
			const reply = await send(r);
			byStatus.set(reply.status, (byStatus.get(reply.status) ?? 0) + 1);
			byRoute.set(r.route, (byRoute.get(r.route) ?? 0) + 1);
			const family = r.kind.replace(/ (path parameter|query) \w+$/, ' $1').split(':')[0];
			byKind.set(family, (byKind.get(family) ?? 0) + 1);
			const where = `${r.method} ${r.path.slice(0, 120)} [${r.kind}] → ${reply.status} ${reply.text.slice(0, 300)}`;
			if (reply.status >= 500 || reply.status === 0) {
				findings.push(`${reply.status === 0 ? 'no answer' : '5xx'}: ${where}`);
				continue;
			}
			if (r.ignorable) continue;
			if (reply.status < 400) {
				findings.push(`accepted: ${where}`);
				continue;
			}
			let body: { error?: { code?: unknown; message?: unknown; details?: { field?: unknown; message?: unknown }[] } };
			try {
				body = JSON.parse(reply.text) as typeof body;
			} catch {
				findings.push(`not JSON: ${where}`);
				continue;
			}
			const error = body.error;
			if (typeof error?.code !== 'string' || typeof error.message !== 'string' || error.message === '' || !Array.isArray(error.details)) {
				findings.push(`not the error shape: ${where}`);
				continue;
			}
			if (error.details.some((d) => typeof d.field !== 'string' || typeof d.message !== 'string' || !d.message.includes(d.field))) {
				findings.push(`a detail does not name its field: ${where}`);
			}
			if (error.details.length > 0 && !error.message.includes(String(error.details[0].field))) findings.push(`message does not name the field: ${where}`);
			if (r.field !== undefined) {
				const wanted = r.field.split('|');
				const named = error.details.some((d) => wanted.some((w) => d.field === w || String(d.field).startsWith(`${w}.`) || String(d.field).startsWith(`${w}[`)));
				if (!named) findings.push(`field ${r.field} not named: ${where}`);
			}
		}
		const after = await snapshot();

		const routesInDoc = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
		console.log(
			[
				`bad-input fuzzer (seed ${SEED}): ${requests.length} requests over ${routesInDoc.length} routes of /openapi.json`,
				`by status: ${[...byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s} × ${n}`).join(', ')}`,
				`by kind: ${[...byKind.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} × ${n}`).join(', ')}`,
				'by route:',
				...[...byRoute.entries()].map(([route, n]) => `  ${String(n).padStart(4)}  ${route}`),
				`findings: ${findings.length}`,
				...findings.slice(0, Number(process.env.FUZZ_SHOW ?? 60)).map((f) => `  ${f}`),
			].join('\n'),
		);

		expect(requests.length).toBeGreaterThanOrEqual(1000);
		for (const route of routesInDoc) expect(byRoute.get(route) ?? 0, route).toBeGreaterThan(0);
		expect(findings).toEqual([]);
		expect(changed(before, after), 'rows written by invalid requests').toEqual([]);
	});
});
