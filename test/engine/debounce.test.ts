import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchLock } from '../../engine/src/delivery/dispatchLock.js';
import { dropSchema, eventually, freshSchema, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * Debounce (docs/flow-control.md#debounce) against a real PostgreSQL, with two
 * engines on one schema delivering to real loopback receivers: enqueues that share a queue and a
 * debounce key fold into one task while it waits.
 */

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
interface Reply {
	status: number;
	body: any;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
	for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
	const r = await startReceiver(respond);
	cleanups.push(() => r.close());
	return r;
}

const enqueue = (te: TestEngine, body: Record<string, unknown>): Promise<Reply> => te.api('POST', '/v1/tasks', body);

async function rows<T>(te: TestEngine, sql: string, params: unknown[] = []): Promise<T[]> {
	return (await te.engine.pool.query(sql, params)).rows as T[];
}

/** The database clock, in ms. */
async function dbNow(te: TestEngine): Promise<number> {
	return (await rows<{ now: Date }>(te, 'SELECT now()'))[0].now.getTime();
}

/** pg-boss's dispatch jobs of one task. */
async function jobsOf(te: TestEngine, taskId: string): Promise<{ id: string; state: string; startAfter: Date }[]> {
	return rows(te, `SELECT id, state, start_after AS "startAfter" FROM "${te.schema}_pgboss".job WHERE data->>'taskId' = $1`, [taskId]);
}

async function stateOf(te: TestEngine, id: string): Promise<string> {
	return (await te.api('GET', `/v1/tasks/${id}`)).body.state;
}

/** Row counts of the tables an enqueue writes. */
async function written(te: TestEngine): Promise<{ tasks: number; jobs: number; events: number }> {
	const [r] = await rows<{ tasks: number; jobs: number; events: number }>(
		te,
		`SELECT (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM "${te.schema}_pgboss".job) AS jobs,
		   (SELECT count(*)::int FROM task_events) AS events`,
	);
	return r;
}

/**
 * Holds a queue's dispatch lock from a connection of the test's own, as a claim in progress holds
 * it; `waiting` lists the transactions queued behind it (claims, and joins of a group of the queue).
 */
async function holdDispatchLock(te: TestEngine, queue: string) {
	const name = dispatchLock(te.schema, queue);
	const client = new pg.Client({ connectionString: testDatabaseUrl() });
	await client.connect();
	await client.query('BEGIN');
	await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [name]);
	let released = false;
	const release = async () => {
		if (released) return;
		released = true;
		await client.query('COMMIT');
		await client.end();
	};
	cleanups.push(release);
	return {
		// Asked on another connection: pg_stat_activity is a snapshot for the rest of a transaction.
		waiting: async () =>
			(
				await te.engine.pool.query<{ started: Date; join: boolean }>(
					`SELECT a.xact_start AS started, a.query LIKE '%debounce_open%' AS join
					 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
					 WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1
					   AND l.classid::bigint = ((hashtext($1)::bigint >> 32) & 4294967295) AND l.objid::bigint = (hashtext($1)::bigint & 4294967295)`,
					[name],
				)
			).rows,
		release,
	};
}

describe('debounce on two engines', () => {
	let a: TestEngine;
	let b: TestEngine;
	beforeAll(async () => {
		const schema = freshSchema();
		a = await startTestEngine({}, { schema, keepSchema: true });
		b = await startTestEngine({}, { schema, keepSchema: true });
		cleanups.push(
			() => dropSchema(schema),
			() => a.stop(),
			() => b.stop(),
		);
	});

	/** A queue made through one engine and known to the other; with a handler when `url` is given. */
	async function queue(name: string, url?: string, paused = false): Promise<void> {
		expect((await a.api('POST', '/v1/queues', { name, paused })).status).toBe(201);
		if (url) expect((await a.api('POST', `/v1/queues/${name}/handlers`, { url })).status).toBe(201);
		await eventually(async () => (await b.api('GET', `/v1/queues/${name}`)).status === 200, 15_000, `engine b to see queue ${name}`);
	}

	it('replace: the first enqueue opens a group (201), later ones join it (200), and the task runs once with the last payload', async () => {
		const r = await receiver();
		await queue('replace', r.url);
		const debounce = { key: 'user-1', seconds: 2 };
		const first = await enqueue(a, { queue: 'replace', name: 'reply', payload: { text: 'hello' }, debounce });
		expect(first.status).toBe(201);
		expect(first.body).toMatchObject({ debounced: false, state: 'scheduled', payload: { text: 'hello' } });
		const second = await enqueue(b, { queue: 'replace', name: 'reply', payload: { text: 'are you there?' }, debounce });
		expect(second.status).toBe(200);
		expect(second.body).toMatchObject({ id: first.body.id, debounced: true, payload: { text: 'are you there?' } });
		const third = await enqueue(a, { queue: 'replace', name: 'reply', payload: { text: 'ok, call me' }, debounce: { ...debounce, mode: 'replace' } });
		expect(third.status).toBe(200);
		expect(third.body).toMatchObject({ id: first.body.id, debounced: true, payload: { text: 'ok, call me' } });

		await eventually(async () => (await stateOf(a, first.body.id)) === 'completed', 15_000, 'the task to complete');
		expect(r.requests.map((req) => [req.json.id, req.json.payload])).toEqual([[first.body.id, { text: 'ok, call me' }]]);
		expect(await rows(a, 'SELECT id FROM tasks WHERE queue = $1', ['replace'])).toEqual([{ id: first.body.id }]);
	});

	it('collect: five chat messages become one task whose payload.items holds them in arrival order, delivered once', async () => {
		const r = await receiver();
		await queue('chat', r.url);
		const messages = ['hi', 'I have a question', 'about my order', '#1234', 'thanks!'].map((text) => ({ user: 'u-7', text }));
		const answers: Reply[] = [];
		for (const [i, message] of messages.entries()) {
			answers.push(await enqueue(i % 2 === 0 ? a : b, { queue: 'chat', name: 'agent-run', payload: message, debounce: { key: 'u-7', seconds: 2, mode: 'collect' } }));
		}
		expect(answers.map((x) => [x.status, x.body.debounced])).toEqual([[201, false], ...messages.slice(1).map(() => [200, true])]);
		expect(new Set(answers.map((x) => x.body.id)).size).toBe(1);
		// Each answer is the task as that enqueue left it.
		answers.forEach((x, i) => expect(x.body.payload).toEqual({ items: messages.slice(0, i + 1) }));

		// The task shows its group: open while it waits, closed once a later enqueue found it started.
		expect(answers[4].body.debounce).toEqual({ key: 'u-7', mode: 'collect', maxWaitSeconds: null, open: true });
		await eventually(async () => (await stateOf(a, answers[0].body.id)) === 'completed', 15_000, 'the task to complete');
		expect(r.requests).toHaveLength(1);
		expect(r.requests[0].json).toMatchObject({ id: answers[0].body.id, name: 'agent-run', payload: { items: messages } });
		const next = await enqueue(b, { queue: 'chat', name: 'agent-run', payload: { user: 'u-7', text: 'one more' }, debounce: { key: 'u-7', seconds: 60, mode: 'collect' } });
		expect([next.status, next.body.debounced]).toEqual([201, false]);
		expect((await a.api('GET', `/v1/tasks/${answers[0].body.id}`)).body.debounce).toMatchObject({ key: 'u-7', open: false });
	});

	it('each join moves the due time to its own seconds from now, never past maxWaitSeconds after the first enqueue; other fields stay the first', async () => {
		await queue('waiting'); // no handler: the tasks wait where the enqueues put them
		const first = await enqueue(a, { queue: 'waiting', name: 'digest', payload: { n: 1 }, priority: 'low', debounce: { key: 'k', seconds: 30 } });
		expect(Date.parse(first.body.dueAt) - Date.parse(first.body.createdAt)).toBe(30_000);
		const [{ job_id: firstJob }] = await rows<{ job_id: string }>(a, 'SELECT job_id FROM tasks WHERE id = $1', [first.body.id]);

		const before = await dbNow(a);
		const joined = await enqueue(b, { queue: 'waiting', name: 'other-name', payload: { n: 2 }, priority: 'high', debounce: { key: 'k', seconds: 60 } });
		const after = await dbNow(a);
		expect(joined.status).toBe(200);
		const due = Date.parse(joined.body.dueAt);
		expect(due).toBeGreaterThanOrEqual(before + 60_000 - 1);
		expect(due).toBeLessThanOrEqual(after + 60_000 + 1);
		expect(joined.body).toMatchObject({ id: first.body.id, name: 'digest', priority: -10, payload: { n: 2 }, createdAt: first.body.createdAt, state: 'scheduled' });

		// The dispatch job moved with it: the old one is withdrawn, the new one is due at the new time.
		const [{ job_id: jobNow, due_at: dueAt }] = await rows<{ job_id: string; due_at: Date }>(a, 'SELECT job_id, due_at FROM tasks WHERE id = $1', [first.body.id]);
		const jobs = await jobsOf(a, first.body.id);
		expect(jobs.map((j) => [j.id, j.state]).sort()).toEqual(
			[
				[firstJob, 'cancelled'],
				[jobNow, 'created'],
			].sort(),
		);
		expect(jobs.find((j) => j.id === jobNow)?.startAfter.getTime()).toBe(dueAt.getTime());
		// The event log saw one state (scheduled); moving the due time within the future is no change of state.
		expect(await rows(a, 'SELECT state FROM task_events WHERE task_id = $1', [first.body.id])).toEqual([{ state: 'scheduled' }]);

		const capped = await enqueue(a, { queue: 'waiting', name: 'digest', payload: { n: 1 }, debounce: { key: 'capped', seconds: 20, maxWaitSeconds: 25 } });
		expect(Date.parse(capped.body.dueAt) - Date.parse(capped.body.createdAt)).toBe(20_000);
		// A joiner's own maxWaitSeconds does not lift the group's.
		const late = await enqueue(b, { queue: 'waiting', name: 'digest', payload: { n: 2 }, debounce: { key: 'capped', seconds: 30, maxWaitSeconds: 86400 } });
		expect(late.status).toBe(200);
		expect(Date.parse(late.body.dueAt) - Date.parse(capped.body.createdAt)).toBe(25_000);
	});

	it('a task that started is not joined: the next enqueue opens a new group; so does one after a cancel', async () => {
		let release = () => undefined as void;
		const held = new Promise<void>((resolve) => (release = resolve));
		const r = await receiver(async (req) => {
			if (req.json.payload.n === 1) await held;
			return {};
		});
		await queue('started', r.url);
		const debounce = { key: 'k', seconds: 0.1 };
		const first = await enqueue(a, { queue: 'started', name: 'n', payload: { n: 1 }, debounce });
		await eventually(() => r.requests.length === 1, 15_000, 'the first delivery to start');
		expect(await stateOf(a, first.body.id)).toBe('active');

		const second = await enqueue(b, { queue: 'started', name: 'n', payload: { n: 2 }, debounce: { ...debounce, seconds: 30 } });
		expect(second.status).toBe(201);
		expect(second.body).toMatchObject({ debounced: false, payload: { n: 2 } });
		expect(second.body.id).not.toBe(first.body.id);
		const third = await enqueue(a, { queue: 'started', name: 'n', payload: { n: 3 }, debounce });
		expect(third.body).toMatchObject({ id: second.body.id, debounced: true, payload: { n: 3 } });
		release();
		await eventually(async () => (await stateOf(a, first.body.id)) === 'completed' && (await stateOf(a, second.body.id)) === 'completed', 15_000, 'both tasks');
		expect(r.requests.map((req) => req.json.payload)).toEqual([{ n: 1 }, { n: 3 }]);

		// Cancelled: the next enqueue opens a new group, and running the cancelled task again
		// (retry) does not reopen the old group.
		const c1 = await enqueue(a, { queue: 'waiting', name: 'n', payload: { n: 1 }, debounce: { key: 'cancel-me', seconds: 60 } });
		expect((await a.api('POST', `/v1/tasks/${c1.body.id}/cancel`)).status).toBe(200);
		const c2 = await enqueue(b, { queue: 'waiting', name: 'n', payload: { n: 2 }, debounce: { key: 'cancel-me', seconds: 60 } });
		expect(c2.status).toBe(201);
		expect(c2.body.id).not.toBe(c1.body.id);
		expect((await a.api('POST', `/v1/tasks/${c1.body.id}/retry`)).status).toBe(200);
		const c3 = await enqueue(a, { queue: 'waiting', name: 'n', payload: { n: 3 }, debounce: { key: 'cancel-me', seconds: 60 } });
		expect(c3.body).toMatchObject({ id: c2.body.id, debounced: true });
	});

	it('joins a task parked behind its concurrency key: only its payload and due time change, and it runs once the key frees', async () => {
		let release = () => undefined as void;
		const held = new Promise<void>((resolve) => (release = resolve));
		const r = await receiver(async (req) => {
			if (req.json.name === 'busy') await held;
			return {};
		});
		expect((await a.api('POST', '/v1/queues', { name: 'parked', keyConcurrency: 1 })).status).toBe(201);
		expect((await a.api('POST', '/v1/queues/parked/handlers', { url: r.url })).status).toBe(201);
		await eventually(async () => (await b.api('GET', '/v1/queues/parked')).status === 200, 15_000, 'engine b to see the queue');
		const busy = await enqueue(a, { queue: 'parked', name: 'busy', concurrencyKey: 'customer-1' });
		await eventually(() => r.requests.length === 1, 15_000, 'the busy task to start');
		const debounce = { key: 'd', seconds: 0.1, mode: 'collect' };
		const first = await enqueue(a, { queue: 'parked', name: 'n', payload: 1, concurrencyKey: 'customer-1', debounce });
		await eventually(async () => (await rows<{ parked: boolean }>(a, 'SELECT parked FROM tasks WHERE id = $1', [first.body.id]))[0].parked, 15_000, 'the task to be parked');

		const joined = await enqueue(b, { queue: 'parked', name: 'n', payload: 2, concurrencyKey: 'customer-1', debounce: { ...debounce, seconds: 0.5 } });
		expect(joined.body).toMatchObject({ id: first.body.id, debounced: true, payload: { items: [1, 2] } });
		expect(Date.parse(joined.body.dueAt)).toBeGreaterThan(Date.parse(first.body.dueAt));
		const [row] = await rows<{ parked: boolean; job_id: string | null }>(a, 'SELECT parked, job_id FROM tasks WHERE id = $1', [first.body.id]);
		expect(row).toEqual({ parked: true, job_id: null });

		release();
		await eventually(async () => (await stateOf(a, first.body.id)) === 'completed' && (await stateOf(a, busy.body.id)) === 'completed', 20_000, 'both tasks');
		expect(r.requests.filter((req) => req.json.id === first.body.id).map((req) => req.json.payload)).toEqual([{ items: [1, 2] }]);
	});

	it('48 concurrent enqueues over two engines make exactly one task, with every payload exactly once', async () => {
		const r = await receiver();
		await queue('burst', r.url);
		const answers = await Promise.all(
			// 10 s: the 48 take turns on the group's lock, which on a busy machine took 3.9 s — a group due
			// sooner is delivered mid-burst, and the rest rightly open a new one.
			Array.from({ length: 48 }, (_, i) => enqueue(i % 2 === 0 ? a : b, { queue: 'burst', name: 'n', payload: { i }, debounce: { key: 'hot', seconds: 10, mode: 'collect' } })),
		);
		expect(answers.filter((x) => x.status === 201)).toHaveLength(1);
		expect(answers.filter((x) => x.status === 200 && x.body.debounced === true)).toHaveLength(47);
		expect(new Set(answers.map((x) => x.body.id)).size).toBe(1);
		const stored = await rows<{ payload: { items: { i: number }[] } }>(a, 'SELECT payload FROM tasks WHERE queue = $1', ['burst']);
		expect(stored).toHaveLength(1);
		const items = stored[0].payload.items;
		expect(items.map((x) => x.i).sort((p, q) => p - q)).toEqual(Array.from({ length: 48 }, (_, i) => i));
		// Arrival order: each answer shows the items up to and including its own, as the group had them then.
		for (const [i, x] of answers.entries()) {
			const seen = x.body.payload.items as { i: number }[];
			expect(seen[seen.length - 1]).toEqual({ i });
			expect(seen).toEqual(items.slice(0, seen.length));
		}
		await eventually(() => r.requests.length === 1, 30_000, 'the delivery');
		expect(r.requests[0].json.payload.items).toEqual(items);
	});

	it('under claims racing the joins (groups due every 50 ms), every payload is delivered exactly once and every task once', async () => {
		const r = await receiver();
		await queue('churn', r.url);
		const answers: { i: number; reply: Reply }[] = [];
		let i = 0;
		for (let wave = 0; wave < 8; wave++) {
			const before = r.requests.length;
			const replies = await Promise.all(
				Array.from({ length: 8 }, () => {
					const n = i++;
					return enqueue(n % 2 === 0 ? a : b, { queue: 'churn', name: 'n', payload: { n }, debounce: { key: 'k', seconds: 0.05, mode: 'collect' } }).then((reply) => ({ i: n, reply }));
				}),
			);
			answers.push(...replies);
			// Every other wave waits for a delivery, so groups are closed by claims (not only opened).
			if (wave % 2 === 0) await eventually(() => r.requests.length > before, 15_000, 'a delivery');
		}
		expect(answers.every((x) => x.reply.status === 201 || x.reply.status === 200)).toBe(true);
		const ids = new Set(answers.map((x) => x.reply.body.id));
		await eventually(() => r.requests.length >= ids.size, 20_000, 'a delivery of every task');
		await eventually(async () => (await rows(a, `SELECT 1 FROM tasks WHERE queue = 'churn' AND state <> 'completed'`)).length === 0, 15_000, 'all tasks completed');

		const delivered = new Map<string, number[]>();
		for (const req of r.requests) {
			expect(delivered.has(req.json.id), `task ${req.json.id} delivered twice`).toBe(false);
			delivered.set(req.json.id, req.json.payload.items.map((x: { n: number }) => x.n));
		}
		expect([...delivered.keys()].sort()).toEqual([...ids].sort());
		expect([...delivered.values()].flat().sort((p, q) => p - q)).toEqual(Array.from({ length: i }, (_, n) => n));
		for (const x of answers) expect(delivered.get(x.reply.body.id)).toContain(x.i);
		expect(ids.size).toBeGreaterThanOrEqual(4);
		expect(answers.filter((x) => x.reply.status === 201)).toHaveLength(ids.size);
	});

	it('a claim that takes the task first wins: the join waiting behind it opens a new group', async () => {
		const r = await receiver();
		// Paused until the lock is held, so that the claim that waits for it began after the due time.
		await queue('claim-first', r.url, true);
		const debounce = { key: 'k', seconds: 0.2, mode: 'collect' };
		const first = await enqueue(a, { queue: 'claim-first', name: 'n', payload: 'a', debounce });
		const dueAt = new Date(first.body.dueAt);
		await eventually(async () => (await dbNow(a)) > dueAt.getTime(), 15_000, 'the task to be due');
		const lock = await holdDispatchLock(a, 'claim-first');
		expect((await a.api('POST', '/v1/queues/claim-first/resume')).status).toBe(200);
		// A claim waits for the lock, as it would behind another claim; then the join queues behind it.
		await eventually(async () => (await lock.waiting()).some((w) => !w.join && w.started > dueAt), 15_000, 'a claim waiting');
		const join = enqueue(b, { queue: 'claim-first', name: 'n', payload: 'b', debounce });
		await eventually(async () => (await lock.waiting()).some((w) => w.join), 15_000, 'the join waiting');
		await lock.release();

		const joined = await join;
		expect(joined.status).toBe(201);
		expect(joined.body).toMatchObject({ debounced: false, payload: { items: ['b'] } });
		expect(joined.body.id).not.toBe(first.body.id);
		await eventually(() => r.requests.length === 2, 15_000, 'both deliveries');
		expect(r.requests.map((req) => [req.json.id, req.json.payload])).toEqual([
			[first.body.id, { items: ['a'] }],
			[joined.body.id, { items: ['b'] }],
		]);
	});

	it('a join that locks the task first wins: the claim behind it never sees the old job, and the task runs once with both items', async () => {
		const r = await receiver();
		// Paused until the join waits, so that no claim is in flight yet: the first claims begin behind the join.
		await queue('join-first', r.url, true);
		const first = await enqueue(a, { queue: 'join-first', name: 'n', payload: 'a', debounce: { key: 'k', seconds: 0.2, mode: 'collect' } });
		const dueAt = new Date(first.body.dueAt);
		const [{ job_id: oldJob }] = await rows<{ job_id: string }>(a, 'SELECT job_id FROM tasks WHERE id = $1', [first.body.id]);
		await eventually(async () => (await dbNow(a)) > dueAt.getTime(), 15_000, 'the old job to be due');
		const lock = await holdDispatchLock(a, 'join-first');
		const join = enqueue(b, { queue: 'join-first', name: 'n', payload: 'b', debounce: { key: 'k', seconds: 2, mode: 'collect' } });
		await eventually(async () => (await lock.waiting()).some((w) => w.join), 15_000, 'the join waiting');
		expect((await a.api('POST', '/v1/queues/join-first/resume')).status).toBe(200);
		// Behind it, a claim that began after the old due time: the old job would be due for it.
		await eventually(async () => (await lock.waiting()).some((w) => !w.join && w.started > dueAt), 15_000, 'a claim waiting after the due time');
		await lock.release();

		const joined = await join;
		expect(joined.status).toBe(200);
		expect(joined.body).toMatchObject({ id: first.body.id, debounced: true, payload: { items: ['a', 'b'] } });
		await eventually(async () => (await stateOf(a, first.body.id)) === 'completed', 15_000, 'the task to complete');
		expect(r.requests.map((req) => req.json.payload)).toEqual([{ items: ['a', 'b'] }]);
		expect((await jobsOf(a, first.body.id)).find((j) => j.id === oldJob)?.state).toBe('cancelled');
	});

	it('describes debounce and the 200/201 answers in /openapi.json', async () => {
		const doc = (await a.api('GET', '/openapi.json')).body;
		const post = doc.paths['/v1/tasks'].post;
		const body = post.requestBody.content['application/json'].schema;
		expect(Object.keys(body.properties.debounce.properties).sort()).toEqual(['key', 'maxWaitSeconds', 'mode', 'seconds']);
		expect(body.properties.debounce.properties.mode.enum).toEqual(['replace', 'collect']);
		for (const status of ['200', '201']) expect(post.responses[status].content['application/json'].schema.properties.debounced.type).toBe('boolean');
		const bulk = doc.paths['/v1/tasks/bulk'].post;
		expect(bulk.requestBody.content['application/json'].schema.properties.tasks.items.properties.debounce).toBeDefined();
		expect(bulk.responses['201'].content['application/json'].schema.properties.items.items.required).toEqual(expect.arrayContaining(['created', 'debounced']));
	});
});

describe('debounce input and limits (one engine, PAYLOAD_LIMIT_BYTES 200)', () => {
	let te: TestEngine;
	beforeAll(async () => {
		te = await startTestEngine({ PAYLOAD_LIMIT_BYTES: '200' }, { background: false });
		cleanups.push(() => te.stop());
		await te.api('POST', '/v1/queues', { name: 'q' });
	});

	it('collect starts a new group when the next payload would pass the payload limit; the full one is no longer joined', async () => {
		const item = (i: number) => ({ text: 'x'.repeat(40), i });
		const itemSize = Buffer.byteLength(JSON.stringify(item(0)));
		// `{"items":[…]}` is 12 bytes around the items and a comma between them.
		const perGroup = Math.floor((200 - 12 + 1) / (itemSize + 1));
		expect(perGroup).toBe(3);
		const answers: Reply[] = [];
		for (let i = 0; i < 2 * perGroup; i++) answers.push(await enqueue(te, { queue: 'q', name: 'n', payload: item(i), debounce: { key: 'full', seconds: 60, mode: 'collect' } }));
		expect(answers.map((x) => x.status)).toEqual([201, 200, 200, 201, 200, 200]);
		const [g1, g2] = [answers[0].body.id, answers[3].body.id];
		expect(g1).not.toBe(g2);
		expect(answers.map((x) => x.body.id)).toEqual([g1, g1, g1, g2, g2, g2]);
		const stored = await rows<{ id: string; payload: { items: unknown[] } }>(te, 'SELECT id, payload FROM tasks WHERE id = ANY($1::uuid[])', [[g1, g2]]);
		expect(stored.find((t) => t.id === g1)?.payload.items).toEqual([0, 1, 2].map(item));
		expect(stored.find((t) => t.id === g2)?.payload.items).toEqual([3, 4, 5].map(item));
		for (const t of stored) expect(Buffer.byteLength(JSON.stringify(t.payload))).toBeLessThanOrEqual(200);

		// A first payload that fits alone but not as { items: [payload] } is refused in collect mode (413).
		const big = { text: 'x'.repeat(180) };
		expect(Buffer.byteLength(JSON.stringify(big))).toBeLessThanOrEqual(200);
		const before = await written(te);
		const refused = await enqueue(te, { queue: 'q', name: 'n', payload: big, debounce: { key: 'big', seconds: 60, mode: 'collect' } });
		expect(refused.status).toBe(413);
		expect(refused.body.error.details[0].field).toBe('payload');
		expect(await written(te)).toEqual(before);
		expect((await enqueue(te, { queue: 'q', name: 'n', payload: big, debounce: { key: 'big', seconds: 60 } })).status).toBe(201);
	});

	it('bulk: items are written in order, later ones joining the groups earlier ones opened; each says created and debounced', async () => {
		const collect = (key: string) => ({ key, seconds: 60, mode: 'collect' });
		const res = await te.api('POST', '/v1/tasks/bulk', {
			tasks: [
				{ queue: 'q', name: 'n', payload: 'a', debounce: collect('b1') },
				{ queue: 'q', name: 'n', payload: 'b', debounce: collect('b1') },
				{ queue: 'q', name: 'plain' },
				{ queue: 'q', name: 'n', payload: 'c', debounce: collect('b2') },
				{ queue: 'q', name: 'n', payload: 'd', debounce: collect('b1') },
			],
		});
		expect(res.status).toBe(201);
		const items = res.body.items as { id: string; created: boolean; debounced: boolean; payload: unknown }[];
		expect(items.map((x) => [x.created, x.debounced])).toEqual([
			[true, false],
			[false, true],
			[true, false],
			[true, false],
			[false, true],
		]);
		expect(new Set([items[0].id, items[1].id, items[4].id]).size).toBe(1);
		// Items of one group show the task as the whole bulk left it.
		for (const x of [items[0], items[1], items[4]]) expect(x.payload).toEqual({ items: ['a', 'b', 'd'] });
		expect(items[3].payload).toEqual({ items: ['c'] });
		expect(items[2].payload).toEqual({});

		const again = await te.api('POST', '/v1/tasks/bulk', { tasks: [{ queue: 'q', name: 'n', payload: 'e', debounce: collect('b1') }] });
		expect(again.body.items[0]).toMatchObject({ id: items[0].id, created: false, debounced: true, payload: { items: ['a', 'b', 'd', 'e'] } });
	});

	it.each([
		['an empty key', { debounce: { key: '', seconds: 1 } }, 'debounce.key'],
		['a key over 200 characters', { debounce: { key: 'k'.repeat(201), seconds: 1 } }, 'debounce.key'],
		['a key that is not a string', { debounce: { key: 42, seconds: 1 } }, 'debounce.key'],
		['no key', { debounce: { seconds: 1 } }, 'debounce.key'],
		['seconds 0', { debounce: { key: 'k', seconds: 0 } }, 'debounce.seconds'],
		['negative seconds', { debounce: { key: 'k', seconds: -3 } }, 'debounce.seconds'],
		['seconds over a day', { debounce: { key: 'k', seconds: 86401 } }, 'debounce.seconds'],
		['seconds as a string', { debounce: { key: 'k', seconds: '3' } }, 'debounce.seconds'],
		['no seconds', { debounce: { key: 'k' } }, 'debounce.seconds'],
		['maxWaitSeconds below seconds', { debounce: { key: 'k', seconds: 5, maxWaitSeconds: 3 } }, 'debounce.maxWaitSeconds'],
		['maxWaitSeconds over a day', { debounce: { key: 'k', seconds: 5, maxWaitSeconds: 86401 } }, 'debounce.maxWaitSeconds'],
		['maxWaitSeconds 0', { debounce: { key: 'k', seconds: 5, maxWaitSeconds: 0 } }, 'debounce.maxWaitSeconds'],
		['an unknown mode', { debounce: { key: 'k', seconds: 1, mode: 'merge' } }, 'debounce.mode'],
		['an unknown field', { debounce: { key: 'k', seconds: 1, leading: true } }, 'debounce.leading'],
		['debounce that is not an object', { debounce: 'k' }, 'debounce'],
		['debounce null', { debounce: null }, 'debounce'],
		['debounce with delaySeconds', { delaySeconds: 5, debounce: { key: 'k', seconds: 1 } }, 'debounce'],
		['debounce with runAt', { runAt: new Date(Date.now() + 3600_000).toISOString(), debounce: { key: 'k', seconds: 1 } }, 'debounce'],
		['debounce with idempotencyKey', { idempotencyKey: 'once', debounce: { key: 'k', seconds: 1 } }, 'debounce'],
	])('refuses %s with a 400 naming the field, writing nothing', async (_, fields, field) => {
		// An open group of key k: a bad enqueue must not join it either.
		await enqueue(te, { queue: 'q', name: 'n', payload: { n: 0 }, debounce: { key: 'k', seconds: 60 } });
		const [{ payload: payloadBefore }] = await rows<{ payload: unknown }>(te, `SELECT payload FROM tasks WHERE debounce_key = 'k' AND debounce_open`);
		const before = await written(te);
		const res = await enqueue(te, { queue: 'q', name: 'n', payload: { n: 1 }, ...fields });
		expect(res.status, JSON.stringify(res.body)).toBe(400);
		const problem = (res.body.error.details as { field: string; message: string }[]).find((d) => d.field === field);
		expect(problem, JSON.stringify(res.body.error.details)).toBeDefined();
		expect(problem?.message).toContain(field);
		expect(res.body.error.message).toContain(res.body.error.details[0].field);
		expect(await written(te)).toEqual(before);
		expect((await rows<{ payload: unknown }>(te, `SELECT payload FROM tasks WHERE debounce_key = 'k' AND debounce_open`))[0].payload).toEqual(payloadBefore);
	});

	it.each([
		['mode', { debounce: { key: 'k', seconds: 1, mode: 'merge' } }, 'tasks[3].debounce.mode'],
		['seconds', { debounce: { key: 'k', seconds: 0 } }, 'tasks[3].debounce.seconds'],
		['maxWaitSeconds', { debounce: { key: 'k', seconds: 5, maxWaitSeconds: 1 } }, 'tasks[3].debounce.maxWaitSeconds'],
		['delaySeconds', { delaySeconds: 1, debounce: { key: 'k', seconds: 1 } }, 'tasks[3].debounce'],
	])('refuses a bad debounce %s in a bulk with a 400 naming the item, writing nothing', async (_, fields, field) => {
		const before = await written(te);
		const good = { queue: 'q', name: 'n', debounce: { key: 'bulk-bad', seconds: 60 } };
		const res = await te.api('POST', '/v1/tasks/bulk', { tasks: [good, good, { queue: 'q', name: 'plain' }, { queue: 'q', name: 'n', ...fields }] });
		expect(res.status, JSON.stringify(res.body)).toBe(400);
		expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
		expect(await written(te)).toEqual(before);
	});
});
