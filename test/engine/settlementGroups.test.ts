import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchLock } from '../../engine/src/delivery/dispatchLock.js';
import { eventually, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * The settlement writer keeps two groups of delivery results in flight (delivery/settlement.ts). A
 * group takes the dispatch locks of its queues with its BEGIN, so a group held up on one queue
 * must not hold back the results of another queue; and groups sharing queues take turns without
 * failing. Completions in a queue with nothing else due take no lock (`lockFree`, delivery/quietQueues.ts).
 * Real PostgreSQL: the lock is held by a connection of the test, as another engine's claim would hold it.
 */
describe('settlement groups', () => {
	let t: TestEngine;
	let holder: pg.Client;
	const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];

	beforeAll(async () => {
		t = await startTestEngine({ POLL_INTERVAL_MS: '200' });
		holder = new pg.Client({ connectionString: testDatabaseUrl() });
		await holder.connect();
	});
	afterAll(async () => {
		await holder?.end();
		await Promise.all(receivers.map((r) => r.close()));
		await t?.stop();
	});

	async function queueWithHandler(name: string, respond: Parameters<typeof startReceiver>[0] = () => ({})) {
		const receiver = await startReceiver(respond);
		receivers.push(receiver);
		expect((await t.api('POST', '/v1/queues', { name })).status).toBe(201);
		expect((await t.api('POST', `/v1/queues/${name}/handlers`, { url: receiver.url })).status).toBe(201);
		return receiver;
	}

	const enqueue = async (queue: string) => {
		const res = await t.api('POST', '/v1/tasks', { queue, name: 'job', payload: {} });
		expect(res.status).toBe(201);
		return res.body.id as string;
	};
	const stateOf = async (id: string) => (await t.api('GET', `/v1/tasks/${id}`)).body.state as string;
	/** Whether a connection waits for the queue's dispatch lock (an ungranted advisory lock in pg_locks). */
	const waitingForLock = async (queue: string) =>
		(
			await holder.query(
				`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
				 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
				 AND objsubid = 1 AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
				[dispatchLock(t.schema, queue)],
			)
		).rows[0].n > 0;

	it("writes one queue's results while another queue's group waits for that queue's lock", async () => {
		let answerHeld!: () => void;
		const held = new Promise<void>((resolve) => (answerHeld = resolve));
		// A failure: its retry needs the queue's lock (a completion here would not, the queue being quiet).
		const slow = await queueWithHandler('held', async () => {
			await held;
			return { status: 500 };
		});
		await queueWithHandler('free');

		const heldTask = await enqueue('held');
		await eventually(() => slow.requests.length === 1, 10_000, 'the held queue’s task delivered');
		// As another engine claiming from the queue would: the settlement of its result must wait.
		await holder.query('SELECT pg_advisory_lock(hashtext($1))', [dispatchLock(t.schema, 'held')]);
		try {
			answerHeld();
			// The answer is in, and its group waits at BEGIN for the lock.
			await eventually(() => waitingForLock('held'), 5_000, 'the held queue’s group waiting for its lock');
			const freeTask = await enqueue('free');
			await eventually(async () => (await stateOf(freeTask)) === 'completed', 5_000, 'the other queue’s task completed');
			expect(await stateOf(heldTask)).toBe('active');
		} finally {
			await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [dispatchLock(t.schema, 'held')]);
		}
		await eventually(async () => (await stateOf(heldTask)) === 'retrying', 5_000, 'the held task retrying once the lock was free');
	});

	it('writes a completion in a queue with nothing else due without waiting for its lock', async () => {
		let answer!: () => void;
		const answered = new Promise<void>((resolve) => (answer = resolve));
		const handler = await queueWithHandler('quiet', async () => {
			await answered;
			return {};
		});
		const id = await enqueue('quiet');
		await eventually(() => handler.requests.length === 1, 10_000, 'the task delivered');
		await holder.query('SELECT pg_advisory_lock(hashtext($1))', [dispatchLock(t.schema, 'quiet')]);
		try {
			answer();
			// Before, the settlement waited here for the lock, as the failure above does.
			await eventually(async () => (await stateOf(id)) === 'completed', 5_000, 'the task completed while another holds the queue’s lock');
			expect(await waitingForLock('quiet')).toBe(false);
		} finally {
			await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [dispatchLock(t.schema, 'quiet')]);
		}
	});

	it('completes every task of two queues answered together, whose groups share both queues', async () => {
		const a = await queueWithHandler('pair-a', () => ({ delayMs: Math.floor(Math.random() * 5) }));
		const b = await queueWithHandler('pair-b', () => ({ delayMs: Math.floor(Math.random() * 5) }));
		const ids: string[] = [];
		for (let round = 0; round < 5; round++) {
			const bulk = await t.api('POST', '/v1/tasks/bulk', {
				tasks: Array.from({ length: 40 }, (_, i) => ({ queue: i % 2 === 0 ? 'pair-a' : 'pair-b', name: 'job', payload: { round, i } })),
			});
			expect(bulk.status).toBe(201);
			ids.push(...bulk.body.items.map((item: { id: string }) => item.id));
		}
		await eventually(async () => (await Promise.all(ids.map(stateOf))).every((s) => s === 'completed'), 20_000, 'all 200 tasks completed');
		expect(a.requests.length + b.requests.length).toBe(200);
		// Each task was written once: no result was lost to a failed group and delivered again.
		const attempts = await Promise.all(ids.map(async (id) => (await t.api('GET', `/v1/tasks/${id}`)).body.attemptCount as number));
		expect(attempts.every((n) => n === 1)).toBe(true);
	});

	// The race the quiet path opens: a task enqueued while a completion is written without the lock is
	// claimed at once and sees the finishing task still active; at the queue's concurrency it finds no
	// room. The engine polls only every 10 s here, so that task is delivered in time only if the end of
	// the settlement wakes the queue; and never beyond the concurrency.
	it('delivers a task that found no room beside such a settlement once it commits, within the concurrency', async () => {
		const te = await startTestEngine({ POLL_INTERVAL_MS: '10000' });
		const row = new pg.Client({ connectionString: testDatabaseUrl() });
		await row.connect();
		let answerFirst!: () => void;
		const firstAnswered = new Promise<void>((resolve) => (answerFirst = resolve));
		let answerSecond!: () => void;
		const secondAnswered = new Promise<void>((resolve) => (answerSecond = resolve));
		const handler = await startReceiver(async (_req, index) => {
			if (index === 0) await firstAnswered;
			if (index === 1) await secondAnswered;
			return {};
		});
		receivers.push(handler);
		try {
			expect((await te.api('POST', '/v1/queues', { name: 'pair', concurrency: 2 })).status).toBe(201);
			const registered = await te.api('POST', '/v1/queues/pair/handlers', { url: handler.url });
			expect(registered.status).toBe(201);
			const enqueueHere = async () => (await te.api('POST', '/v1/tasks', { queue: 'pair', name: 'job', payload: {} })).body.id as string;
			const stateHere = async (id: string) => (await te.api('GET', `/v1/tasks/${id}`)).body.state as string;
			// One task in a queue with room for two: the claim drained it, so its completion is written without the lock.
			const first = await enqueueHere();
			await eventually(() => handler.requests.length === 1, 10_000, 'the first task delivered');
			// That settlement updates the handler's row: holding the row keeps it from committing.
			await row.query('BEGIN');
			await row.query(`SELECT 1 FROM "${te.schema}".handlers WHERE id = $1 FOR UPDATE`, [registered.body.id]);
			const rowPid = (await row.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
			answerFirst();
			const blockedByRow = async () =>
				(await holder.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [rowPid])).rows[0].n > 0;
			await eventually(blockedByRow, 5_000, 'the first settlement waiting for the handler row');
			// Claimed beside it (the first still counts as active): one slot left, taken.
			const second = await enqueueHere();
			await eventually(() => handler.requests.length === 2, 5_000, 'the second task delivered beside the settlement');
			// No slot left while the first is not settled: this one waits.
			const third = await enqueueHere();
			expect(await stateHere(first)).toBe('active');
			await row.query('COMMIT');
			const committedAt = Date.now();
			await eventually(() => handler.requests.length === 3, 3_000, 'the third task delivered well before the next poll');
			expect(handler.requests[2].at - committedAt).toBeLessThan(3_000);
			expect(await stateHere(second)).toBe('active');
			expect(handler.maxInProgress).toBe(2);
			answerSecond();
			for (const id of [first, second, third]) await eventually(async () => (await stateHere(id)) === 'completed', 5_000, `task ${id} completed`);
		} finally {
			answerFirst();
			answerSecond();
			await row.query('ROLLBACK').catch(() => undefined);
			await row.end();
			await te.stop();
		}
	});
});
