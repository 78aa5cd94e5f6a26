import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetentionCleaner } from '../../engine/src/maintenance/retentionCleaner.js';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

const DAY = 86400_000;
const daysOn = (days: number) => new Date(Date.now() + days * DAY);

/**
 * Retention with a fake clock: `runOnce(now)` is handed an instant days ahead instead of waiting.
 * Completed and cancelled tasks go after 7 days, dead letters after 30 (the defaults), attempts
 * with them; nothing unfinished is touched, and a task whose idempotency key is still inside its
 * window stays until the window ends.
 */
describe('retention', () => {
	let te: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	const ids: Record<string, string[]> = {};

	const enqueue = async (queue: string, kind: string, extra: Record<string, unknown> = {}) => {
		const r = await te.api('POST', '/v1/tasks', { queue, name: kind, payload: { kind }, ...extra });
		expect(r.status).toBe(201);
		(ids[kind] ??= []).push(r.body.id);
		return r.body.id as string;
	};
	const stateOf = async (id: string) => {
		const r = await te.api('GET', `/v1/tasks/${id}`);
		return r.status === 404 ? 'gone' : r.body.state;
	};
	const attemptsOf = async (taskIds: string[]) =>
		(await te.engine.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM attempts WHERE task_id = ANY($1::uuid[])', [taskIds])).rows[0].n;

	beforeAll(async () => {
		// Idempotency keys are remembered for 20 days here: longer than completed tasks are kept.
		te = await startTestEngine({ IDEMPOTENCY_WINDOW_SECONDS: String(20 * 86400) });
		receiver = await startReceiver((req) => {
			if (req.json?.payload?.kind === 'fail') return { status: 422 };
			if (req.json?.payload?.kind === 'flaky') return { status: 503 };
			return {};
		});
		for (const q of ['r', 'r2']) {
			await te.api('POST', '/v1/queues', { name: q });
			await te.api('POST', '/v1/queues/' + q + '/handlers', { url: receiver.url });
		}
		for (let i = 0; i < 3; i++) await enqueue('r', 'ok');
		for (let i = 0; i < 2; i++) await enqueue('r2', 'ok');
		await enqueue('r', 'keyed', { idempotencyKey: 'k1' });
		for (let i = 0; i < 2; i++) await enqueue('r', 'fail');
		await enqueue('r', 'flaky', { retry: { limit: 2, delaySeconds: 3600, maxDelaySeconds: 7200 } });
		await enqueue('r', 'later', { delaySeconds: 3600 });
		const cancelled = await enqueue('r', 'cancelled', { delaySeconds: 3600 });
		expect((await te.api('POST', `/v1/tasks/${cancelled}/cancel`)).status).toBe(200);
		await eventually(async () => {
			const states = await Promise.all([...ids.ok, ...ids.keyed, ...ids.fail, ...ids.flaky].map(stateOf));
			return states.filter((s) => s === 'completed').length === 6 && states.filter((s) => s === 'failed').length === 2 && states.includes('retrying');
		}, 20_000, 'deliveries settled');
	});

	afterAll(async () => {
		await te?.stop();
		await receiver?.close();
	});

	it('keeps everything that is not old enough', async () => {
		expect(await te.engine.retention.runOnce()).toEqual({ completed: 0, cancelled: 0, failed: 0, batches: 0 });
		expect(await te.engine.retention.runOnce(daysOn(6.9))).toEqual({ completed: 0, cancelled: 0, failed: 0, batches: 0 });
	});

	it('purges completed and cancelled tasks after 7 days, with their attempts, and nothing else', async () => {
		const completed = [...ids.ok];
		expect(await attemptsOf(completed)).toBe(5);
		expect(await te.engine.retention.runOnce(daysOn(8))).toEqual({ completed: 5, cancelled: 1, failed: 0, batches: 0 });
		for (const id of [...completed, ...ids.cancelled]) expect(await stateOf(id)).toBe('gone');
		expect(await attemptsOf(completed)).toBe(0);
		// Dead letters, unfinished tasks and the task whose idempotency key is still remembered stay.
		expect(await Promise.all(ids.fail.map(stateOf))).toEqual(['failed', 'failed']);
		expect(await stateOf(ids.later[0])).toBe('scheduled');
		expect(await stateOf(ids.flaky[0])).toBe('retrying');
		expect(await stateOf(ids.keyed[0])).toBe('completed');
		const again = await te.api('POST', '/v1/tasks', { queue: 'r', name: 'keyed', payload: { kind: 'keyed' }, idempotencyKey: 'k1' });
		expect(again.status).toBe(200);
		expect(again.body.id).toBe(ids.keyed[0]);
	});

	it('purges the kept task once its key expired, and dead letters after 30 days', async () => {
		// The key is remembered for 20 days: the task it points to stays that long.
		expect(await te.engine.retention.runOnce(daysOn(19.9))).toEqual({ completed: 0, cancelled: 0, failed: 0, batches: 0 });
		expect(await te.engine.retention.runOnce(daysOn(20.1))).toEqual({ completed: 1, cancelled: 0, failed: 0, batches: 0 });
		expect(await stateOf(ids.keyed[0])).toBe('gone');
		expect(await te.engine.retention.runOnce(daysOn(29.9))).toEqual({ completed: 0, cancelled: 0, failed: 0, batches: 0 });
		expect(await te.engine.retention.runOnce(daysOn(30.1))).toEqual({ completed: 0, cancelled: 0, failed: 2, batches: 0 });
		for (const id of ids.fail) expect(await stateOf(id)).toBe('gone');
		expect(await attemptsOf([...ids.fail, ...ids.keyed])).toBe(0);
		const health = (await te.api('GET', '/v1/queues/r/health')).body;
		expect(health.deadLetters).toBe(0);
		expect(health.counts).toMatchObject({ scheduled: 1, retrying: 1, completed: 0, failed: 0, cancelled: 0 });
		// Even a thousand years on, unfinished tasks are never purged.
		expect(await te.engine.retention.runOnce(daysOn(365_000))).toEqual({ completed: 0, cancelled: 0, failed: 0, batches: 0 });
		expect(await stateOf(ids.later[0])).toBe('scheduled');
	});

	it('works in bounded batches and logs every purge', async () => {
		for (let i = 0; i < 5; i++) await enqueue('r2', 'batched');
		await eventually(async () => (await Promise.all(ids.batched.map(stateOf))).every((s) => s === 'completed'), 20_000, 'batch delivered');
		const lines: Record<string, unknown>[] = [];
		const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
		const cleaner = new RetentionCleaner(te.engine.pool, { completedDays: 7, failedDays: 30, batchSize: 2, maxBatchesPerRun: 1 }, log);
		const runs = [];
		for (let i = 0; i < 4; i++) runs.push((await cleaner.runOnce(daysOn(8))).completed);
		expect(runs).toEqual([2, 2, 1, 0]);
		expect(lines.map((l) => [l.msg, l.state, l.purged, l.olderThanDays, l.queues])).toEqual([
			['retention purged old tasks', 'completed', 2, 7, { r2: 2 }],
			['retention purged old tasks', 'completed', 2, 7, { r2: 2 }],
			['retention purged old tasks', 'completed', 1, 7, { r2: 1 }],
		]);
	});

	it('purges finished batches with their chunks: completed after 7 days, with failures after 30', async () => {
		const ok = await te.api('POST', '/v1/batches', { queue: 'r2', name: 'kept', items: [1, 2, 3], chunkSize: 2 });
		const bad = await te.api('POST', '/v1/batches', { queue: 'r', name: 'fails', items: [{ k: 1 }], chunkSize: 1, payload: { kind: 'fail' } });
		expect([ok.status, bad.status]).toEqual([202, 202]);
		await eventually(async () => {
			const states = await Promise.all([ok.body.id, bad.body.id].map(async (id) => (await te.api('GET', `/v1/batches/${id}`)).body.state));
			return states[0] === 'completed' && states[1] === 'failed';
		}, 20_000, 'batches finished');
		const chunks = async (id: string) => (await te.engine.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM batch_chunks WHERE batch_id = $1', [id])).rows[0].n;
		expect(await chunks(ok.body.id)).toBe(2);
		expect((await te.engine.retention.runOnce(daysOn(6.9))).batches).toBe(0);
		expect((await te.engine.retention.runOnce(daysOn(8))).batches).toBe(1);
		expect((await te.api('GET', `/v1/batches/${ok.body.id}`)).status).toBe(404);
		expect(await chunks(ok.body.id)).toBe(0);
		expect((await te.api('GET', `/v1/batches/${bad.body.id}`)).status).toBe(200);
		expect((await te.engine.retention.runOnce(daysOn(31))).batches).toBe(1);
		expect((await te.api('GET', `/v1/batches/${bad.body.id}`)).status).toBe(404);
	});
});
