import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';
import { listen, openStream, type SseClient, type SseEvent } from '../helpers/sse.js';

/**
 * Resuming the live event stream (Last-Event-ID) on another engine, `event: reset` outside the
 * window, an event committed after a later one (a gap in the ids), and a slow client's overflow.
 * Engine A delivers; B and C only serve streams (C with a small buffer).
 */
describe('GET /v1/events: resume, reset, late commits, overflow', () => {
	const schema = freshSchema();
	let a: TestEngine;
	let b: TestEngine;
	let c: TestEngine;
	let urlA: string;
	let urlB: string;
	let urlC: string;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	const streams: SseClient[] = [];
	const open = async (base: string, path: string, opts?: Parameters<typeof openStream>[2]) => {
		const s = await openStream(base, path, opts);
		streams.push(s);
		return s;
	};
	const stateOf = (id: string, state: string) => (e: SseEvent) => e.event === 'task.state' && e.data.id === id && e.data.state === state;
	// Delivery first (a loaded machine may take seconds), then the stream: a failure says which was slow.
	const completedViaApi = (te: TestEngine, id: string) => eventually(async () => (await te.api('GET', `/v1/tasks/${id}`)).body.state === 'completed', 30_000, `task ${id} completed`);

	beforeAll(async () => {
		receiver = await startReceiver((req) => (req.json?.name === 'poison' ? { status: 400 } : {}));
		a = await startTestEngine({}, { schema, keepSchema: true });
		b = await startTestEngine({}, { schema, keepSchema: true, background: false });
		c = await startTestEngine({}, { schema, keepSchema: true, background: false, eventStream: { maxBufferBytes: 64 * 1024 } });
		[urlA, urlB, urlC] = await Promise.all([listen(a), listen(b), listen(c)]);
		for (const q of ['rs-1', 'rs-2']) {
			expect((await a.api('POST', '/v1/queues', { name: q })).status).toBe(201);
			expect((await a.api('POST', `/v1/queues/${q}/handlers`, { url: receiver.url })).status).toBe(201);
		}
		expect((await a.api('POST', '/v1/queues', { name: 'rs-paused', paused: true })).status).toBe(201);
	});
	afterAll(async () => {
		for (const s of streams) s.close();
		for (const te of [c, b, a]) await te?.stop();
		await receiver?.close();
		await dropSchema(schema);
	});

	it('resumes on another engine from Last-Event-ID: exactly the missed task events, filters applied', async () => {
		const first = await open(urlB, '/v1/events?types=task.state&queue=rs-1');
		const t1 = (await a.api('POST', '/v1/tasks', { queue: 'rs-1', name: 'before' })).body;
		await completedViaApi(a, t1.id);
		await first.next(stateOf(t1.id, 'completed'));
		const resumeId = first.lastId as string;
		first.close();

		const t2 = (await a.api('POST', '/v1/tasks', { queue: 'rs-1', name: 'missed-1' })).body;
		const t3 = (await a.api('POST', '/v1/tasks', { queue: 'rs-1', name: 'missed-2' })).body;
		const other = (await a.api('POST', '/v1/tasks', { queue: 'rs-2', name: 'other-queue' })).body;
		for (const t of [t2, t3, other]) await completedViaApi(a, t.id);

		const resumed = await open(urlA, '/v1/events?types=task.state&queue=rs-1', { headers: { 'last-event-id': resumeId } });
		await resumed.next(stateOf(t3.id, 'completed'));
		const replayed = resumed.events.map((e) => `${e.data.name}:${e.data.state}`);
		for (const name of ['missed-1', 'missed-2']) {
			expect(replayed.filter((r) => r.startsWith(`${name}:`))).toEqual([`${name}:queued`, `${name}:active`, `${name}:completed`]);
		}
		expect(replayed.some((r) => r.startsWith('before:') || r.startsWith('other-queue:'))).toBe(false);
		expect(resumed.events.some((e) => e.event === 'reset')).toBe(false);
		// Then live, without a seam: a new task's events follow.
		const t4 = (await a.api('POST', '/v1/tasks', { queue: 'rs-1', name: 'live' })).body;
		await completedViaApi(a, t4.id);
		await resumed.next(stateOf(t4.id, 'completed'));
		const ids = resumed.events.map((e) => `${e.data.id}:${e.data.state}`);
		expect(new Set(ids).size).toBe(ids.length);
	});

	it('gives a stream its starting position, so a client that got no event can still resume', async () => {
		const quiet = await open(urlB, '/v1/events?types=task.state&queue=rs-2');
		await eventually(() => quiet.lastId !== null, 10_000, 'the stream to send its position');
		const start = quiet.lastId as string;
		expect(quiet.events).toEqual([]);
		quiet.close();

		const missed = (await a.api('POST', '/v1/tasks', { queue: 'rs-2', name: 'while-away' })).body;
		await completedViaApi(a, missed.id);
		const resumed = await open(urlA, '/v1/events?types=task.state&queue=rs-2', { headers: { 'last-event-id': start } });
		await resumed.next(stateOf(missed.id, 'completed'));
		expect(resumed.events.filter((e) => e.data.id === missed.id).map((e) => e.data.state)).toEqual(['queued', 'active', 'completed']);
		expect(resumed.events.some((e) => e.event === 'reset')).toBe(false);
	});

	it('delivers an event committed after a later one, live and on resume (a gap in the ids)', async () => {
		const stream = await open(urlB, '/v1/events?types=task.state&queue=rs-paused');
		const early = (await a.api('POST', '/v1/tasks', { queue: 'rs-paused', name: 'slow-commit' })).body;
		const late = (await a.api('POST', '/v1/tasks', { queue: 'rs-paused', name: 'fast-commit' })).body;
		await stream.next(stateOf(late.id, 'queued'));

		// A writer takes its event id, then waits before committing; another writer commits meanwhile.
		const slow = new pg.Client({ connectionString: testDatabaseUrl() });
		await slow.connect();
		try {
			await slow.query('BEGIN');
			await slow.query(`UPDATE "${schema}".tasks SET state = 'cancelled', finished_at = now() WHERE id = $1`, [early.id]);
			expect((await a.api('POST', `/v1/tasks/${late.id}/cancel`)).status).toBe(200);
			const after = await stream.next(stateOf(late.id, 'cancelled'));
			// The position names the id still open, so a resume from it asks for it again.
			expect(after.id).toMatch(/^\d+~\d+(-\d+)?(,\d+(-\d+)?)*$/);
			expect(stream.events.some(stateOf(early.id, 'cancelled'))).toBe(false);
			await slow.query('COMMIT');

			const lateEvent = await stream.next(stateOf(early.id, 'cancelled'));
			expect(Number(lateEvent.id?.split('~')[0])).toBeGreaterThanOrEqual(Number(after.id?.split('~')[0]));
			const resumed = await open(urlC, '/v1/events?types=task.state&queue=rs-paused', { headers: { 'last-event-id': after.id as string } });
			const replayed = await resumed.next(stateOf(early.id, 'cancelled'));
			expect(replayed.data.name).toBe('slow-commit');
			expect(resumed.events.filter((e) => e.data.id === late.id)).toEqual([]);
		} finally {
			await slow.end();
		}
	});

	it('does not send an event twice when the reader publishes it while the resume is replaying it', async () => {
		// An engine whose reader reads at most every 3 s, so it falls behind the resume's replay.
		const d = await startTestEngine({}, { schema, keepSchema: true, background: false, eventStream: { minReadIntervalMs: 3000 } });
		const locker = new pg.Client({ connectionString: testDatabaseUrl() });
		await locker.connect();
		try {
			const urlD = await listen(d);
			const watcher = await open(urlD, '/v1/events?types=task.state&queue=rs-2');
			await eventually(() => watcher.lastId !== null, 10_000, 'the watcher to get its position');
			const start = watcher.lastId as string;
			const poison = (await a.api('POST', '/v1/tasks', { queue: 'rs-2', name: 'poison' })).body;
			await watcher.next(stateOf(poison.id, 'failed'), 15_000);
			// The reader just read. Until it reads again (3 s), a task enqueued now is in the log only.
			await locker.query('BEGIN');
			// A dead letter's event loads the task's attempts: the replay waits at it while the lock is held.
			await locker.query(`LOCK TABLE "${schema}".attempts IN ACCESS EXCLUSIVE MODE`);
			const x = (await d.api('POST', '/v1/tasks', { queue: 'rs-2', name: 'published-during-the-replay' })).body;
			const resumed = await open(urlD, '/v1/events?types=task.state,task.dead_lettered&queue=rs-2', { headers: { 'last-event-id': start } });
			// The reader reads the new task's event while the replay, which read it too, still waits.
			await watcher.next(stateOf(x.id, 'queued'));
			await locker.query('COMMIT');
			await resumed.next((e) => e.event === 'task.dead_lettered' && e.data.task.id === poison.id);
			await resumed.next(stateOf(x.id, 'queued'));
			// Then live: a later task's event comes after anything the start could still send.
			const y = (await d.api('POST', '/v1/tasks', { queue: 'rs-2', name: 'after-the-start' })).body;
			await resumed.next(stateOf(y.id, 'queued'));
			expect(resumed.events.filter(stateOf(x.id, 'queued'))).toHaveLength(1);
			expect(resumed.events.filter((e) => e.event === 'reset')).toEqual([]);
		} finally {
			await locker.query('ROLLBACK').catch(() => undefined);
			await locker.end();
			await d.stop();
		}
	});

	it('closes a slow client with event: overflow, without slowing the others', async () => {
		const slowClient = await open(urlC, '/v1/events?types=task.dead_lettered');
		const fast = await open(urlC, '/v1/events?types=task.dead_lettered');
		await slowClient.next(() => true, 500).catch(() => undefined);
		slowClient.pause();
		// 80 dead letters carrying 200 KB payloads: about 16 MB, well past what loopback socket buffers
		// hold for a reader that stopped (5.4 MB here with the 1 MiB bound, measured: 8 MB, once, was not enough).
		const payload = { blob: 'x'.repeat(200_000) };
		const ids: string[] = [];
		for (let i = 0; i < 20; i++) {
			const res = await a.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 4 }, () => ({ queue: 'rs-2', name: 'poison', payload })) });
			expect(res.status).toBe(201);
			ids.push(...res.body.items.map((t: { id: string }) => t.id));
		}
		await eventually(() => ids.every((id) => fast.events.some((e) => e.data.task.id === id)), 30_000, 'all 80 dead letters on the fast stream');
		slowClient.resume();
		await slowClient.whenEnded(15_000);
		const last = slowClient.events[slowClient.events.length - 1];
		expect(last.event).toBe('overflow');
		expect(last.data.reason).toMatch(/behind/);
		expect(slowClient.events.filter((e) => e.event === 'task.dead_lettered').length).toBeLessThan(80);
		// The overflow keeps the id of the last event the client got: it resumes from there.
		const resumed = await open(urlB, '/v1/events?types=task.dead_lettered', { headers: { 'last-event-id': slowClient.lastId as string } });
		await eventually(() => ids.every((id) => [...slowClient.events, ...resumed.events].some((e) => e.data.task?.id === id)), 30_000, 'the rest on resume');
		expect(fast.ended).toBe(false);
	});

	it('starts with event: reset when Last-Event-ID is outside the window, then streams live', async () => {
		const future = await open(urlB, '/v1/events?types=task.state', { headers: { 'last-event-id': '900000000000' } });
		const reset = await future.next((e) => e.event === 'reset');
		expect(reset.data.reason).toMatch(/not a position/);
		expect(future.events[0].event).toBe('reset');

		const probe = await open(urlB, '/v1/events?types=task.state');
		const t = (await a.api('POST', '/v1/tasks', { queue: 'rs-1', name: 'to-trim' })).body;
		const oldId = (await probe.next(stateOf(t.id, 'queued'))).id as string;
		await completedViaApi(a, t.id);
		await probe.next(stateOf(t.id, 'completed'));
		// Ten minutes later (the window is five): the trimmer removes everything and raises the horizon.
		const trimmed = await a.engine.eventLogTrimmer.runOnce(new Date(Date.now() + 10 * 60_000));
		expect(trimmed.trimmed).toBeGreaterThan(0);
		const old = await open(urlC, '/v1/events?types=task.state', { headers: { 'last-event-id': oldId } });
		const oldReset = await old.next((e) => e.event === 'reset');
		expect(oldReset.data.reason).toMatch(/older than the resume window \(300 s\)/);
		const t2 = (await a.api('POST', '/v1/tasks', { queue: 'rs-1', name: 'after-reset' })).body;
		await completedViaApi(a, t2.id);
		await old.next(stateOf(t2.id, 'completed'));
		// The reset's id is a position from which a later resume works.
		const again = await open(urlA, '/v1/events?types=task.state', { headers: { 'last-event-id': oldReset.id as string } });
		await again.next(stateOf(t2.id, 'completed'));
		expect(again.events.some((e) => e.event === 'reset')).toBe(false);
	});
});
