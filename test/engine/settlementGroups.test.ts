import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchLock } from '../../engine/src/delivery/dispatchLock.js';
import { eventually, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * The settlement writer keeps two groups of delivery results in flight (delivery/settlement.ts). Each
 * group takes the dispatch locks of its queues with its BEGIN, so a group held up on one queue
 * must not hold back the results of another queue; and groups sharing queues take turns without
 * failing. Real PostgreSQL: the lock is held by a connection of the test, as another engine's claim
 * would hold it.
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

	it("writes one queue's results while another queue's group waits for that queue's lock", async () => {
		let answerHeld!: () => void;
		const held = new Promise<void>((resolve) => (answerHeld = resolve));
		const slow = await queueWithHandler('held', async () => {
			await held;
			return {};
		});
		await queueWithHandler('free');

		const heldTask = await enqueue('held');
		await eventually(() => slow.requests.length === 1, 10_000, 'the held queue’s task delivered');
		// As another engine claiming from the queue would: the settlement of its result must wait.
		await holder.query('SELECT pg_advisory_lock(hashtext($1))', [dispatchLock(t.schema, 'held')]);
		try {
			answerHeld();
			// The answer is in, and its group waits at BEGIN for the lock.
			const waiting = async () =>
				(
					await holder.query(
						`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
						 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
						 AND objsubid = 1 AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
						[dispatchLock(t.schema, 'held')],
					)
				).rows[0].n > 0;
			await eventually(waiting, 5_000, 'the held queue’s group waiting for its lock');
			const freeTask = await enqueue('free');
			await eventually(async () => (await stateOf(freeTask)) === 'completed', 5_000, 'the other queue’s task completed');
			expect(await stateOf(heldTask)).toBe('active');
		} finally {
			await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [dispatchLock(t.schema, 'held')]);
		}
		await eventually(async () => (await stateOf(heldTask)) === 'completed', 5_000, 'the held task completed once the lock was free');
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
});
