import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver, type ReceivedRequest, type Reply } from '../helpers/receiver.js';

/**
 * Per-key flow control (docs/flow-control.md): `concurrencyKey` on tasks, `keyConcurrency` and
 * `keyRateLimit` on queues, throttling from a handler's 429/503 + Retry-After. Real PostgreSQL, real
 * loopback handlers, and two engines on one database where exactness across engines is the point.
 */
describe('flow control', () => {
	let a: TestEngine;
	let b: TestEngine;
	const schema = freshSchema();
	const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
	let n = 0;

	beforeAll(async () => {
		a = await startTestEngine({ POLL_INTERVAL_MS: '200' }, { schema, keepSchema: true });
		b = await startTestEngine({ POLL_INTERVAL_MS: '200' }, { schema, keepSchema: true });
	});
	afterEach(async () => {
		await Promise.all(receivers.splice(0).map((r) => r.close()));
	});
	afterAll(async () => {
		await a?.stop();
		await b?.stop();
		await dropSchema(schema);
	});

	const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

	/** A handler that records, per key, how many of its tasks it holds at once. */
	async function keyedReceiver(respond: (req: ReceivedRequest, i: number) => Reply | Promise<Reply> = () => ({}), holdMs = 0) {
		const inFlight = new Map<string, number>();
		const maxInFlight = new Map<string, number>();
		const starts: { key: string; at: number; id: string }[] = [];
		/** The most keys that had a task in flight at one moment. */
		const together = { max: 0 };
		const r = await startReceiver(async (req, i) => {
			const key = String(req.json?.payload?.key ?? '');
			starts.push({ key, at: req.at, id: req.json?.id });
			inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
			maxInFlight.set(key, Math.max(maxInFlight.get(key) ?? 0, inFlight.get(key)!));
			together.max = Math.max(together.max, [...inFlight.values()].filter((n) => n > 0).length);
			if (holdMs > 0) await sleep(holdMs);
			const reply = await respond(req, i);
			inFlight.set(key, inFlight.get(key)! - 1);
			return reply;
		});
		receivers.push(r);
		return { ...r, maxInFlight, starts, inFlight, together };
	}

	async function queue(settings: Record<string, unknown>, url: string) {
		const name = `fc${++n}`;
		const res = await a.api('POST', '/v1/queues', { name, concurrency: 50, ...settings });
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		expect((await a.api('POST', `/v1/queues/${name}/handlers`, { url })).status).toBe(201);
		return name;
	}

	async function enqueue(engine: TestEngine, name: string, tasks: { key?: string; payload?: Record<string, unknown> }[]) {
		const res = await engine.api('POST', '/v1/tasks/bulk', {
			tasks: tasks.map((t, i) => ({ queue: name, name: `t${i}`, payload: { key: t.key ?? null, ...t.payload }, ...(t.key ? { concurrencyKey: t.key } : {}) })),
		});
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return (res.body.items as { id: string }[]).map((t) => t.id);
	}

	const completed = async (ids: string[]) => {
		const states = await Promise.all(ids.map(async (id) => (await a.api('GET', `/v1/tasks/${id}`)).body.state));
		return states.every((s) => s === 'completed');
	};

	it('keyConcurrency 1 runs one task per key at a time, across two engines, while the keys progress together', async () => {
		const handler = await keyedReceiver(() => ({}), 150);
		const name = await queue({ keyConcurrency: 1 }, handler.url);
		const tasks = ['c1', 'c2', 'c3'].flatMap((key) => Array.from({ length: 5 }, () => ({ key })));
		// Half through each engine: the limit must hold across them.
		const ids = [...(await enqueue(a, name, tasks.slice(0, 8))), ...(await enqueue(b, name, tasks.slice(8)))];
		await eventually(() => completed(ids), 30_000, 'all 15 tasks completed');

		expect(handler.requests).toHaveLength(15);
		expect(Object.fromEntries(handler.maxInFlight)).toEqual({ c1: 1, c2: 1, c3: 1 });
		// The three customers went side by side: at some moment, tasks of different keys were in flight together.
		const firstOf = (key: string) => handler.starts.find((s) => s.key === key)!.at;
		const lastOf = (key: string) => handler.starts.filter((s) => s.key === key).at(-1)!.at;
		for (const key of ['c2', 'c3']) expect(firstOf(key)).toBeLessThan(lastOf('c1'));
		// Not one key after the other: several keys had a task in the handler at the same moment
		// (a timed bound on the whole run would also measure the machine's load).
		expect(handler.together.max).toBeGreaterThanOrEqual(2);
	});

	it('keyConcurrency 2 is exact across two engines claiming at once', async () => {
		const handler = await keyedReceiver(() => ({}), 60);
		const name = await queue({ keyConcurrency: 2 }, handler.url);
		const ids = [...(await enqueue(a, name, Array.from({ length: 20 }, () => ({ key: 'hot' })))), ...(await enqueue(b, name, Array.from({ length: 20 }, () => ({ key: 'hot' }))))];
		await eventually(() => completed(ids), 30_000, 'all 40 tasks completed');
		expect(handler.maxInFlight.get('hot')).toBe(2);
		expect(handler.requests).toHaveLength(40);
	});

	it('1,000 waiting tasks of a key at its limit do not delay a task of another key', async () => {
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		const handler = await keyedReceiver(async (req) => {
			if (req.json?.payload?.key === 'busy') await gate;
			return {};
		});
		const name = await queue({ keyConcurrency: 1 }, handler.url);
		await enqueue(a, name, Array.from({ length: 1000 }, () => ({ key: 'busy' })));
		await eventually(() => handler.starts.some((s) => s.key === 'busy'), 10_000, 'the first busy task in flight');
		const [other] = await enqueue(a, name, [{ key: 'other' }]);
		const enqueuedAt = Date.now();
		await eventually(() => handler.starts.some((s) => s.key === 'other'), 10_000, 'the other key delivered');
		const waited = handler.starts.find((s) => s.key === 'other')!.at - enqueuedAt;
		expect(waited).toBeLessThan(2_000);
		expect(handler.starts.filter((s) => s.key === 'busy')).toHaveLength(1);
		await eventually(() => completed([other!]), 5_000, 'the other key completed');
		// The line shows in /metrics: nearly all of the 999 wait parked (a few may hold a job, in line).
		const metrics = (await a.api('GET', '/metrics')).body as string;
		const parked = Number(metrics.match(new RegExp(`^task_engine_parked_tasks\\{queue="${name}"\\} (\\d+)$`, 'm'))?.[1]);
		expect(parked).toBeGreaterThanOrEqual(990);
		expect(parked).toBeLessThanOrEqual(999);

		// The busy key's line is parked, not lost: they all run once its first task is let go.
		release();
		await eventually(() => handler.starts.filter((s) => s.key === 'busy').length === 1000, 60_000, 'all busy tasks delivered');
		expect(handler.maxInFlight.get('busy')).toBe(1);
	});

	it('keyRateLimit starts at most max tasks of a key per window, and not the other keys', async () => {
		const handler = await keyedReceiver();
		const name = await queue({ keyRateLimit: { max: 2, periodSeconds: 1 } }, handler.url);
		const ids = await enqueue(a, name, [...Array.from({ length: 6 }, () => ({ key: 'slow' })), { key: 'free' }, { key: 'free2' }]);
		await eventually(() => completed(ids), 20_000, 'all 8 tasks completed');
		// When each attempt started, by the database clock the windows are counted in (the arrival at
		// the handler adds the delivery's own latency, which a loaded machine stretches unevenly).
		const startedAt = async (id: string) => Date.parse((await a.api('GET', `/v1/tasks/${id}`)).body.attempts[0].startedAt);
		const slow = (await Promise.all(ids.slice(0, 6).map(startedAt))).sort((x, y) => x - y);
		// 6 tasks at 2 per window: three windows, so the third pair starts ≥ 2 windows after the first.
		expect(slow[4]! - slow[0]!).toBeGreaterThanOrEqual(1_950);
		for (let i = 2; i < slow.length; i++) expect(slow[i]! - slow[i - 2]!).toBeGreaterThanOrEqual(950);
		// The other keys did not wait for the slow key's windows.
		for (const id of ids.slice(6)) expect((await startedAt(id)) - slow[0]!).toBeLessThan(900);
	});

	it("a 429 with Retry-After holds back that key only, and health lists it until then", async () => {
		let throttle = true;
		const handler = await keyedReceiver((req) => {
			if (req.json?.payload?.key === 'acct-1' && throttle) {
				throttle = false;
				return { status: 429, headers: { 'retry-after': '3' } };
			}
			return {};
		});
		const name = await queue({ retry: { delaySeconds: 1 } }, handler.url);
		const [first] = await enqueue(a, name, [{ key: 'acct-1' }]);
		await eventually(() => handler.requests.length === 1, 10_000, 'the throttled answer');
		await eventually(async () => (await a.api('GET', `/v1/tasks/${first}`)).body.state !== 'active', 10_000, 'the 429 settled');

		const health = (await a.api('GET', `/v1/queues/${name}/health`)).body;
		expect(health.throttled).toHaveLength(1);
		expect(health.throttled[0].key).toBe('acct-1');
		expect((await a.api('GET', '/metrics')).body as string).toMatch(new RegExp(`^task_engine_throttled_keys\\{queue="${name}"\\} 1$`, 'm'));
		const until = Date.parse(health.throttled[0].until);
		expect(until - Date.now()).toBeGreaterThan(1_000);

		const t0 = Date.now();
		const later = await enqueue(a, name, [{ key: 'acct-1' }, { key: 'acct-2' }]);
		await eventually(() => completed([first!, ...later]), 15_000, 'all delivered after the throttle');
		const acct1 = handler.starts.filter((s) => s.key === 'acct-1').slice(1);
		const acct2 = handler.starts.find((s) => s.key === 'acct-2')!;
		expect(acct2.at - t0).toBeLessThan(1_500);
		for (const s of acct1) expect(s.at).toBeGreaterThanOrEqual(until - 50);
	});

	it('tasks parked behind a key whose running task is then throttled start when the throttle ends', async () => {
		let first = true;
		const handler = await keyedReceiver(async () => {
			if (!first) return {};
			first = false;
			// Held long enough for the others to park behind keyConcurrency 1, then throttled.
			await sleep(500);
			return { status: 429, headers: { 'retry-after': '2' } };
		});
		// No retries: the throttled task becomes a dead letter at once, so nothing of the key finishes
		// later to wake the line — only the throttle's end can.
		const name = await queue({ keyConcurrency: 1, retry: { limit: 0 } }, handler.url);
		const [throttledTask, ...others] = await enqueue(a, name, [{ key: 'k' }, { key: 'k' }, { key: 'k' }]);
		await eventually(() => completed(others), 15_000, 'the other two delivered after the throttle');
		expect((await a.api('GET', `/v1/tasks/${throttledTask}`)).body.state).toBe('failed');
		const [throttledAt, ...rest] = handler.starts.map((s) => s.at);
		expect(rest).toHaveLength(2);
		// Not before the throttle ends (≈ 0.5 s + 2 s after the first start), and well before the 60 s recheck.
		for (const at of rest) expect(at - throttledAt!).toBeGreaterThanOrEqual(2_400);
		expect(Math.max(...rest) - throttledAt!).toBeLessThan(10_000);
		expect(handler.maxInFlight.get('k')).toBe(1);
	});

	it('a 503 with Retry-After on a task without a key holds back the whole queue', async () => {
		let throttle = true;
		const handler = await keyedReceiver(() => {
			if (throttle) {
				throttle = false;
				return { status: 503, headers: { 'retry-after': '2' } };
			}
			return {};
		});
		const name = await queue({ retry: { delaySeconds: 1 } }, handler.url);
		const [first] = await enqueue(a, name, [{}]);
		await eventually(() => handler.requests.length === 1, 10_000, 'the throttled answer');
		await eventually(async () => (await a.api('GET', `/v1/queues/${name}/health`)).body.throttled.length === 1, 10_000, 'the queue throttled');
		const health = (await a.api('GET', `/v1/queues/${name}/health`)).body;
		expect(health.throttled[0].key).toBeNull();
		const until = Date.parse(health.throttled[0].until);

		const later = await enqueue(a, name, [{ key: 'k' }, {}]);
		await eventually(() => completed([first!, ...later]), 15_000, 'all delivered after the throttle');
		for (const s of handler.starts.slice(1)) expect(s.at).toBeGreaterThanOrEqual(until - 50);
	});

	it('a parked task can be cancelled, and the rest of its key goes on', async () => {
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		const handler = await keyedReceiver(async (req) => {
			if (req.json?.payload?.hold) await gate;
			return {};
		});
		const name = await queue({ keyConcurrency: 1 }, handler.url);
		const [holder] = await enqueue(a, name, [{ key: 'k', payload: { hold: true } }]);
		await eventually(() => handler.requests.length === 1, 10_000, 'the holder in flight');
		const [cancelMe, after] = await enqueue(a, name, [{ key: 'k' }, { key: 'k' }]);
		// Both wait (parked or in line); cancelling one leaves the other for when the key frees up.
		expect((await a.api('POST', `/v1/tasks/${cancelMe}/cancel`)).status).toBe(200);
		release();
		await eventually(() => completed([holder!, after!]), 15_000, 'the rest of the key delivered');
		expect((await a.api('GET', `/v1/tasks/${cancelMe}`)).body.state).toBe('cancelled');
		expect(handler.requests.map((r) => r.json.id)).not.toContain(cancelMe);
	});

	it('answers 503 busy, changing nothing, when a debounce join waits on its queue longer than the lock timeout', async () => {
		const te = await startTestEngine({ DB_LOCK_TIMEOUT_MS: '300' });
		const holder = await te.engine.pool.connect();
		try {
			expect((await te.api('POST', '/v1/queues', { name: 'busyq' })).status).toBe(201);
			const open = await te.api('POST', '/v1/tasks', { queue: 'busyq', name: 'chat', payload: { m: 1 }, debounce: { key: 'u1', seconds: 60, mode: 'collect' } });
			expect(open.status).toBe(201);
			// Another session holds the queue's dispatch lock (a long claim, say): the join cannot get it in time.
			await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`task-engine:dispatch:${te.schema}:busyq`]);
			const join = await te.api('POST', '/v1/tasks', { queue: 'busyq', name: 'chat', payload: { m: 2 }, debounce: { key: 'u1', seconds: 60, mode: 'collect' } });
			expect(join.status, JSON.stringify(join.body)).toBe(503);
			expect(join.body.error.code).toBe('busy');
			expect(join.headers['retry-after']).toBe('1');
			expect((await te.api('GET', `/v1/tasks/${open.body.id}`)).body.payload).toEqual({ items: [{ m: 1 }] });
			await holder.query('SELECT pg_advisory_unlock_all()');
			const again = await te.api('POST', '/v1/tasks', { queue: 'busyq', name: 'chat', payload: { m: 2 }, debounce: { key: 'u1', seconds: 60, mode: 'collect' } });
			expect(again.status).toBe(200);
			expect(again.body.payload).toEqual({ items: [{ m: 1 }, { m: 2 }] });
		} finally {
			holder.release();
			await te.stop();
		}
	});

	it('refuses bad flow-control input with a 400 naming the field, writing nothing', async () => {
		const before = (await a.engine.pool.query('SELECT (SELECT count(*) FROM queues)::int AS q, (SELECT count(*) FROM tasks)::int AS t')).rows[0];
		const badQueues: [Record<string, unknown>, string][] = [
			[{ keyConcurrency: 0 }, 'keyConcurrency'],
			[{ keyConcurrency: -1 }, 'keyConcurrency'],
			[{ keyConcurrency: 1.5 }, 'keyConcurrency'],
			[{ keyConcurrency: '2' }, 'keyConcurrency'],
			[{ keyRateLimit: { periodSeconds: 1 } }, 'keyRateLimit.max'],
			[{ keyRateLimit: { max: 0, periodSeconds: 1 } }, 'keyRateLimit.max'],
			[{ keyRateLimit: { max: 2 } }, 'keyRateLimit.periodSeconds'],
			[{ keyRateLimit: { max: 2, periodSeconds: 1, burst: 3 } }, 'keyRateLimit.burst'],
		];
		for (const [body, field] of badQueues) {
			const res = await a.api('POST', '/v1/queues', { name: `bad${++n}`, ...body });
			expect(res.status, JSON.stringify(body)).toBe(400);
			expect(res.body.error.details.map((d: { field: string }) => d.field), JSON.stringify(body)).toContain(field);
		}
		const handler = await keyedReceiver();
		const name = await queue({}, handler.url);
		const after = (await a.engine.pool.query('SELECT count(*)::int AS t FROM tasks')).rows[0];
		for (const [key, field] of [['', 'concurrencyKey'], ['x'.repeat(201), 'concurrencyKey'], [7, 'concurrencyKey'], [null, 'concurrencyKey']] as const) {
			const res = await a.api('POST', '/v1/tasks', { queue: name, name: 't', concurrencyKey: key });
			expect(res.status, String(key)).toBe(400);
			expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
			const bulk = await a.api('POST', '/v1/tasks/bulk', { tasks: [{ queue: name, name: 't', concurrencyKey: 'fine' }, { queue: name, name: 't', concurrencyKey: key }] });
			expect(bulk.status).toBe(400);
			expect(bulk.body.error.details.map((d: { field: string }) => d.field)).toContain(`tasks[1].${field}`);
		}
		expect((await a.engine.pool.query('SELECT count(*)::int AS t FROM tasks')).rows[0].t).toBe(after.t);
		expect((await a.engine.pool.query('SELECT count(*)::int AS q FROM queues')).rows[0].q).toBe(before.q + 1);
		// A key of exactly 200 characters is fine.
		expect((await a.api('POST', '/v1/tasks', { queue: name, name: 't', concurrencyKey: 'k'.repeat(200) })).status).toBe(201);
	});
});
