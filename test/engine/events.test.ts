import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';
import { listen, openStream, type SseClient, type SseEvent } from '../helpers/sse.js';

/**
 * The live event stream (GET /v1/events, docs/architecture.md "Live events") on two engines sharing one database: engine A
 * delivers, engine B only serves the API, so every event a stream on B sees was written by A.
 */
const READ_KEY = 'read-key-events-test-000001';
/** A key revoked while its stream is open (the last test). */
const DOOMED_KEY = 'read-key-events-test-doomed';
const settings = { pingIntervalMs: 150, statsIntervalMs: 300, batchIntervalMs: 1000 };

describe('GET /v1/events', () => {
	const schema = freshSchema();
	let a: TestEngine;
	let b: TestEngine;
	let urlA: string;
	let urlB: string;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	const streams: SseClient[] = [];
	const open = async (base: string, path: string, opts?: Parameters<typeof openStream>[2]) => {
		const s = await openStream(base, path, opts);
		streams.push(s);
		return s;
	};
	const stateOf = (id: string, state: string) => (e: SseEvent) => e.event === 'task.state' && e.data.id === id && e.data.state === state;

	const env = { API_KEYS: `test-key-0123456789abcdef,${READ_KEY}:read,${DOOMED_KEY}:read` };

	beforeAll(async () => {
		// Answers 400 (a dead letter at once) for tasks named "poison", 200 otherwise.
		receiver = await startReceiver((req) => (req.json?.name === 'poison' ? { status: 400, body: { error: 'bad input' } } : {}));
		a = await startTestEngine(env, { schema, keepSchema: true, eventStream: settings });
		b = await startTestEngine(env, { schema, keepSchema: true, background: false, eventStream: settings });
		urlA = await listen(a);
		urlB = await listen(b);
		for (const q of ['ev-a', 'ev-b']) {
			expect((await a.api('POST', '/v1/queues', { name: q })).status).toBe(201);
			expect((await a.api('POST', `/v1/queues/${q}/handlers`, { url: receiver.url })).status).toBe(201);
		}
	});
	afterAll(async () => {
		for (const s of streams) s.close();
		await b?.stop();
		await a?.stop();
		await receiver?.close();
		await dropSchema(schema);
	});

	it('needs a key in the Authorization header: none, a bad one or one in the query string is a 401 before any stream', async () => {
		const none = await open(urlB, '/v1/events', { key: null });
		expect(none.status).toBe(401);
		expect(none.body.error.code).toBe('unauthorized');
		for (const param of ['access_token', 'key', 'api_key', 'token']) {
			const inQuery = await open(urlB, `/v1/events?${param}=test-key-0123456789abcdef`, { key: null });
			expect(inQuery.status, param).toBe(401);
			expect(inQuery.headers['content-type']).toMatch(/application\/json/);
		}
		expect((await open(urlB, '/v1/events', { key: 'not-a-key-of-this-engine' })).status).toBe(401);
		// A key in the header and one in the query string too: the query parameter is refused by name.
		const both = await open(urlB, '/v1/events?access_token=test-key-0123456789abcdef');
		expect(both.status).toBe(400);
		expect(both.body.error.details[0].field).toBe('querystring.access_token');
		// A read key is enough.
		const read = await open(urlB, '/v1/events', { key: READ_KEY });
		expect(read.status).toBe(200);
		expect(read.headers['content-type']).toBe('text/event-stream; charset=utf-8');
		expect(read.headers['cache-control']).toContain('no-cache');
		read.close();
	});

	it('refuses bad filters and a malformed Last-Event-ID with a 400 naming the field', async () => {
		const cases: [string, Record<string, string> | undefined, string][] = [
			['/v1/events?types=task.state,nope', undefined, 'querystring.types'],
			['/v1/events?types=task.state,,queue.stats', undefined, 'querystring.types'],
			['/v1/events?types=', undefined, 'querystring.types'],
			['/v1/events?queue=ok&queue=no%20spaces', undefined, 'querystring.queue[1]'],
			['/v1/events?since=5', undefined, 'querystring.since'],
			['/v1/events', { 'last-event-id': 'yesterday' }, 'headers.last-event-id'],
			['/v1/events', { 'last-event-id': '10~12' }, 'headers.last-event-id'],
		];
		for (const [path, headers, field] of cases) {
			const res = await open(urlB, path, { headers });
			expect(res.status, path).toBe(400);
			expect(res.body.error.code, path).toBe('invalid_request');
			expect(res.body.error.details.map((d: { field: string }) => d.field), path).toContain(field);
			expect(res.body.error.message, path).toContain(field);
		}
	});

	it('streams every state change of tasks handled by the other engine, with ids that resume anywhere', async () => {
		const stream = await open(urlB, '/v1/events?types=task.state');
		const done = (await a.api('POST', '/v1/tasks', { queue: 'ev-a', name: 'hello' })).body;
		for (const state of ['queued', 'active', 'completed']) await stream.next(stateOf(done.id, state));
		const completed = await stream.next(stateOf(done.id, 'completed'));
		expect(completed.data).toEqual({ id: done.id, queue: 'ev-a', name: 'hello', state: 'completed', attempt: 1, at: expect.any(String) });
		expect(completed.id).toMatch(/^\d+(~[\d,-]+)?$/);

		const later = (await b.api('POST', '/v1/tasks', { queue: 'ev-a', name: 'later', delaySeconds: 3600 })).body;
		await stream.next(stateOf(later.id, 'scheduled'));
		expect((await b.api('POST', `/v1/tasks/${later.id}/cancel`)).status).toBe(200);
		const cancelled = await stream.next(stateOf(later.id, 'cancelled'));
		expect(cancelled.data.attempt).toBe(0);
		// Retry (a writer in another module) is seen too: cancelled → queued → active → completed.
		expect((await b.api('POST', `/v1/tasks/${later.id}/retry`)).status).toBe(200);
		await stream.next(stateOf(later.id, 'queued'));
		const again = await stream.next(stateOf(later.id, 'completed'));
		expect(again.data.attempt).toBe(1);
		// Events from this engine's own writes reach streams on the other engine too.
		const onA = await open(urlA, '/v1/events?types=task.state');
		const fromB = (await b.api('POST', '/v1/tasks', { queue: 'ev-b', name: 'from-b' })).body;
		await onA.next(stateOf(fromB.id, 'completed'));
	});

	it('sends its headers only once the log is being read: an event committed after them always arrives', async () => {
		// A third engine with no stream yet: its reader starts with this stream.
		const c = await startTestEngine(env, { schema, keepSchema: true, background: false, eventStream: settings });
		const locker = new pg.Client({ connectionString: testDatabaseUrl() });
		await locker.connect();
		try {
			const urlC = await listen(c);
			// While nobody can read the log, the reader cannot take its starting position.
			await locker.query('BEGIN');
			await locker.query(`LOCK TABLE "${schema}".task_events IN ACCESS EXCLUSIVE MODE`);
			const opening = open(urlC, '/v1/events?types=task.state');
			const first = await Promise.race([opening.then(() => 'headers'), new Promise((r) => setTimeout(() => r('nothing yet'), 500))]);
			await locker.query('COMMIT');
			expect(first).toBe('nothing yet');
			const stream = await opening;
			expect(stream.status).toBe(200);
			const t = (await a.api('POST', '/v1/tasks', { queue: 'ev-a', name: 'right-after-the-headers' })).body;
			await stream.next(stateOf(t.id, 'queued'));
		} finally {
			await locker.query('ROLLBACK').catch(() => undefined);
			await locker.end();
			await c.stop();
		}
	});

	it('filters by queue (repeatable) and type', async () => {
		const onlyB = await open(urlB, '/v1/events?queue=ev-b&types=task.state');
		const both = await open(urlB, '/v1/events?queue=ev-a&queue=ev-b&types=task.state');
		const deadOnly = await open(urlA, '/v1/events?types=task.dead_lettered');
		const ta = (await a.api('POST', '/v1/tasks', { queue: 'ev-a', name: 'x' })).body;
		const tb = (await a.api('POST', '/v1/tasks', { queue: 'ev-b', name: 'poison' })).body;
		await both.next(stateOf(ta.id, 'completed'));
		await both.next(stateOf(tb.id, 'failed'));
		await onlyB.next(stateOf(tb.id, 'failed'));
		const dead = await deadOnly.next((e) => e.data.task?.id === tb.id);
		expect(onlyB.events.every((e) => e.event === 'task.state' && e.data.queue === 'ev-b')).toBe(true);
		expect(deadOnly.events.every((e) => e.event === 'task.dead_lettered')).toBe(true);
		// The dead letter carries the task with its attempts, as GET /v1/tasks/{id} shows it.
		expect(dead.data.task).toMatchObject({ id: tb.id, queue: 'ev-b', name: 'poison', state: 'failed', attemptCount: 1 });
		expect(dead.data.task.attempts).toHaveLength(1);
		expect(dead.data.task.attempts[0]).toMatchObject({ number: 1, statusCode: 400, outcome: 'failed' });
		// A redrive puts it back in line: seen as queued.
		expect((await a.api('POST', '/v1/dead-letters/redrive', { ids: [tb.id] })).status).toBe(200);
		await onlyB.next((e) => e.data.id === tb.id && e.data.state === 'queued');
	});

	it('sends queue.stats every interval, one event per queue, and pings', async () => {
		const stream = await open(urlB, '/v1/events?types=queue.stats&queue=ev-a&queue=ev-b');
		const first = await stream.next((e) => e.event === 'queue.stats' && e.data.queue === 'ev-a');
		await stream.next((e) => e.event === 'queue.stats' && e.data.queue === 'ev-b');
		expect(first.data).toMatchObject({ queue: 'ev-a', paused: false, counts: { scheduled: 0, queued: 0, active: 0, retrying: 0 }, throughputPerMinute: { last5m: expect.any(Number) } });
		expect(first.data.counts.completed).toBeGreaterThanOrEqual(1);
		// Another round of the interval brings them again.
		await stream.next((e) => e.event === 'queue.stats' && e.at > first.at + 200 && e.data.queue === 'ev-a');
		await eventually(() => stream.comments.includes('ping'), 5000, 'a ping');
		expect(new Set(stream.events.map((e) => e.data.queue))).toEqual(new Set(['ev-a', 'ev-b']));
	});

	it('documents the stream (text/event-stream) and the history route in /openapi.json', async () => {
		const doc = (await b.api('GET', '/openapi.json', undefined, { auth: false })).body;
		const events = doc.paths['/v1/events'].get;
		expect(Object.keys(events.responses['200'].content)).toEqual(['text/event-stream']);
		expect(events.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['query:queue', 'query:types', 'header:last-event-id']));
		expect(events.description).toContain('Last-Event-ID');
		const history = doc.paths['/v1/queues/{name}/history'].get;
		expect(Object.keys(history.responses['200'].content['application/json'].schema.properties)).toEqual(['queue', 'minutes', 'points']);
		expect(history.responses['404']).toBeDefined();
	});

	it('sends batch.progress at most once a second per batch, in the shape of GET /v1/batches/{id}', async () => {
		const stream = await open(urlB, '/v1/events?types=batch.progress');
		const created = await a.api('POST', '/v1/batches', { queue: 'ev-a', name: 'rows', items: Array.from({ length: 40 }, (_, i) => i), chunkSize: 2, concurrency: 4 });
		expect(created.status).toBe(202);
		const batchId = created.body.id;
		const finished = await stream.next((e) => e.data.id === batchId && e.data.state === 'completed', 20_000);
		expect(finished.data).toMatchObject({ id: batchId, totalItems: 40, totalChunks: 20, items: { processed: 40, failed: 0 }, chunks: { completed: 20 } });
		const times = stream.events.filter((e) => e.data.id === batchId).map((e) => e.at);
		// Arrival times: a loaded client may take one late and the next on time, so the bound has some slack.
		for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(700);
	});

	it('ends a stream whose key is revoked, at its next ping; coming back is a 401', async () => {
		const doomed = await open(urlB, '/v1/events?types=task.state', { key: DOOMED_KEY });
		const kept = await open(urlB, '/v1/events?types=task.state', { key: READ_KEY });
		expect(doomed.status).toBe(200);
		await eventually(() => doomed.comments.includes('ping'), 5000, 'a ping');
		// Revoked as another engine's start would (provisioning deletes the row); this engine's key set is re-read within 5 s.
		const db = new pg.Client({ connectionString: testDatabaseUrl() });
		await db.connect();
		try {
			const removed = await db.query(`DELETE FROM "${schema}".api_keys WHERE hash = $1`, [createHash('sha256').update(DOOMED_KEY, 'utf8').digest()]);
			expect(removed.rowCount).toBe(1);
		} finally {
			await db.end();
		}
		await doomed.whenEnded(15_000);
		expect(doomed.comments.at(-1)).toMatch(/no longer valid/);
		expect((await open(urlB, '/v1/events', { key: DOOMED_KEY })).status).toBe(401);
		// Only that key's streams end.
		expect(kept.ended).toBe(false);
	});
});

describe('GET /v1/events when the event log cannot be read', () => {
	it('is a 503 with the error shape, nothing streamed; once the log is back, a stream opens', async () => {
		const te = await startTestEngine({}, { background: false });
		const db = new pg.Client({ connectionString: testDatabaseUrl() });
		await db.connect();
		try {
			const url = await listen(te);
			await db.query(`ALTER TABLE "${te.schema}".task_events RENAME TO task_events_away`);
			const refused = await openStream(url, '/v1/events');
			expect(refused.status).toBe(503);
			expect(refused.body.error.code).toBe('unavailable');
			await db.query(`ALTER TABLE "${te.schema}".task_events_away RENAME TO task_events`);
			const stream = await openStream(url, '/v1/events?types=task.state');
			expect(stream.status).toBe(200);
			expect((await te.api('POST', '/v1/queues', { name: 'back' })).status).toBe(201);
			const task = (await te.api('POST', '/v1/tasks', { queue: 'back', name: 'after' })).body;
			await stream.next((e) => e.event === 'task.state' && e.data.id === task.id && e.data.state === 'queued');
			stream.close();
		} finally {
			await db.query(`ALTER TABLE IF EXISTS "${te.schema}".task_events_away RENAME TO task_events`).catch(() => undefined);
			await db.end();
			await te.stop();
		}
	});
});
