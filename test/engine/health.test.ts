import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * A known mix of tasks through a real engine and a real handler: completing, slow, failing at once
 * (dead letters), failing with a retry far ahead (retrying), delayed (scheduled) and cancelled.
 * Counts are asserted exactly, distributions within bounds, and the status against thresholds.
 */
describe('queue health', () => {
	let te: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	const SLOW_MS = 400;

	beforeAll(async () => {
		te = await startTestEngine();
		receiver = await startReceiver((req) => {
			switch (req.json?.payload?.kind) {
				case 'slow':
					return { delayMs: SLOW_MS };
				case 'fail':
					return { status: 422, body: { error: 'bad input' } };
				case 'flaky':
					return { status: 503 };
				default:
					return {};
			}
		});
		expect((await te.api('POST', '/v1/queues', { name: 'mix' })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/mix/handlers', { url: receiver.url })).status).toBe(201);

		const enqueue = (kind: string, extra: Record<string, unknown> = {}) =>
			te.api('POST', '/v1/tasks', { queue: 'mix', name: kind, payload: { kind }, ...extra }).then((r) => {
				expect(r.status).toBe(201);
				return r.body.id as string;
			});
		const health = () => te.api('GET', '/v1/queues/mix/health').then((r) => r.body);

		// Failures first, so the handler's last answers are successes and it ends healthy.
		for (let i = 0; i < 3; i++) await enqueue('fail');
		for (let i = 0; i < 2; i++) await enqueue('flaky', { retry: { limit: 3, delaySeconds: 3600, maxDelaySeconds: 7200 } });
		await eventually(async () => {
			const h = await health();
			return h.counts.failed === 3 && h.counts.retrying === 2;
		}, 20_000, 'failures settled');
		for (let i = 0; i < 6; i++) await enqueue('ok');
		for (let i = 0; i < 3; i++) await enqueue('slow');
		for (let i = 0; i < 3; i++) await enqueue('delayed', { delaySeconds: 3600 });
		const toCancel = await enqueue('delayed', { delaySeconds: 3600 });
		expect((await te.api('POST', `/v1/tasks/${toCancel}/cancel`)).status).toBe(200);
		await eventually(async () => (await health()).counts.completed === 9, 20_000, 'successes settled');
	});

	afterAll(async () => {
		await te?.stop();
		await receiver?.close();
	});

	it('counts every state exactly', async () => {
		const { status, body } = await te.api('GET', '/v1/queues/mix/health');
		expect(status).toBe(200);
		expect(body.queue).toBe('mix');
		expect(body.counts).toEqual({ scheduled: 3, queued: 0, active: 0, retrying: 2, completed: 9, failed: 3, cancelled: 1 });
		expect(body.deadLetters).toBe(3);
		expect(body.oldestQueuedAgeSeconds).toBe(0);
		expect(body.stuck).toEqual({ count: 0, taskIds: [] });
		// 3 failed at once + 2 answered 503; the 9 successes are the other attempts.
		expect(body.failuresLastHour).toBe(5);
		expect(body.recovered).toBe(0);
		expect(body.throughputPerMinute).toEqual({ last5m: 1.8, last60m: 0.15 });
		expect(body.handlers).toEqual({ count: 1, healthy: 1, successRate: Math.round((9 / 14) * 10_000) / 10_000 });
		expect(body.paused).toBe(false);
	});

	it('reports duration and lateness percentiles within bounds', async () => {
		const { body } = await te.api('GET', '/v1/queues/mix/health');
		// 14 attempts: 11 quick, 3 slow. p50 is a quick one; p95 and p99 (the 14th) a slow one.
		expect(body.durationMs.p50).toBeLessThan(SLOW_MS);
		expect(body.durationMs.p95).toBeGreaterThanOrEqual(SLOW_MS);
		expect(body.durationMs.p99).toBeGreaterThanOrEqual(SLOW_MS);
		expect(body.durationMs.p99).toBeLessThan(SLOW_MS + 5000);
		for (const p of ['p50', 'p95', 'p99'] as const) {
			expect(body.latenessMs[p]).toBeGreaterThanOrEqual(0);
			expect(body.latenessMs[p]).toBeLessThan(5000);
		}
		expect(body.latenessMs.p50).toBeLessThanOrEqual(body.latenessMs.p95);
		expect(body.latenessMs.p95).toBeLessThanOrEqual(body.latenessMs.p99);
	});

	it('derives the status from the thresholds', async () => {
		const get = async (query: string) => (await te.api('GET', `/v1/queues/mix/health?${query}`)).body;
		// Failure rate 5/14 = 0.357: over the default 0.2, under twice it.
		const byDefault = await get('');
		expect(byDefault.status).toBe('warning');
		expect(byDefault.reasons.map((r: { code: string }) => r.code)).toEqual(['failure_rate']);
		expect(byDefault.reasons[0].message).toContain('5 of 14 attempts');
		expect((await get('maxFailureRate=0.36')).status).toBe('ok');
		expect((await get('maxFailureRate=0.3')).status).toBe('warning');
		expect((await get('maxFailureRate=0.17')).status).toBe('critical');
		// 3 dead letters against 3 / 2 / 1.
		expect((await get('maxFailureRate=1&maxDeadLetters=3')).status).toBe('ok');
		const warning = await get('maxFailureRate=1&maxDeadLetters=2');
		expect(warning).toMatchObject({ status: 'warning', reasons: [{ code: 'dead_letters' }] });
		expect((await get('maxFailureRate=1&maxDeadLetters=1')).status).toBe('critical');
		// A window that ends before anything finished empties the windowed counts, not the others.
		const narrow = await get('windowSeconds=1');
		await eventually(async () => (await get('windowSeconds=1')).counts.completed === 0, 5000, 'window passed');
		expect(narrow.deadLetters).toBe(3);
		expect((await get('windowSeconds=1')).counts).toMatchObject({ completed: 0, failed: 0, retrying: 2, scheduled: 3, cancelled: 1 });
	});

	it('is critical with no_handler while due tasks wait for a handler', async () => {
		await te.api('POST', '/v1/queues', { name: 'orphan' });
		for (let i = 0; i < 2; i++) await te.api('POST', '/v1/tasks', { queue: 'orphan', name: 'x' });
		await te.api('POST', '/v1/tasks', { queue: 'orphan', name: 'later', delaySeconds: 3600 });
		const h = (await te.api('GET', '/v1/queues/orphan/health')).body;
		expect(h.counts).toMatchObject({ queued: 2, scheduled: 1 });
		expect(h.handlers).toEqual({ count: 0, healthy: 0, successRate: null });
		expect(h.status).toBe('critical');
		expect(h.reasons).toEqual([{ code: 'no_handler', message: '2 due tasks wait for a handler and the queue has no handler' }]);
		expect(h.durationMs).toEqual({ p50: null, p95: null, p99: null });

		// A handler of batch events only takes no tasks: still nobody for them.
		expect((await te.api('POST', '/v1/queues/orphan/handlers', { url: `${receiver.url}/batches`, events: ['batch'] })).status).toBe(201);
		const batchOnly = (await te.api('GET', '/v1/queues/orphan/health')).body;
		expect(batchOnly.reasons.map((r: { code: string }) => r.code)).toEqual(['no_handler']);
		expect(batchOnly.handlers.count).toBe(0);

		// A test-mode handler serves a queue that has no production handler (as the dispatcher does),
		// for one task: then it is gone, and the other task waits again.
		await te.api('POST', '/v1/queues/orphan/handlers', { url: receiver.url, mode: 'test' });
		const tested = await eventually(async () => {
			const b = (await te.api('GET', '/v1/queues/orphan/health')).body;
			return b.counts.completed === 1 && b.handlers.count === 0 ? b : undefined;
		});
		expect(tested.reasons.map((r: { code: string }) => r.code)).toEqual(['no_handler']);
		expect(tested.counts).toMatchObject({ queued: 1, scheduled: 1, completed: 1 });

		// Production handlers take the rest; they alone are the queue's handlers.
		await te.api('POST', '/v1/queues/orphan/handlers', { url: `${receiver.url}/a` });
		await te.api('POST', '/v1/queues/orphan/handlers', { url: `${receiver.url}/b` });
		const healed = await eventually(async () => {
			const b = (await te.api('GET', '/v1/queues/orphan/health')).body;
			return b.counts.completed === 2 ? b : undefined;
		});
		expect(healed.status).toBe('ok');
		expect(healed.reasons).toEqual([]);
		expect(healed.counts).toMatchObject({ queued: 0, scheduled: 1, completed: 2 });
		expect(healed.handlers).toEqual({ count: 2, healthy: 2, successRate: 1 });
	});

	it('measures how long due tasks have waited (paused queue)', async () => {
		await te.api('POST', '/v1/queues', { name: 'held', paused: true });
		await te.api('POST', '/v1/queues/held/handlers', { url: receiver.url });
		await te.api('POST', '/v1/tasks', { queue: 'held', name: 'waits' });
		const h = await eventually(async () => {
			const b = (await te.api('GET', '/v1/queues/held/health?maxQueuedAgeSeconds=1000')).body;
			return b.oldestQueuedAgeSeconds >= 1 ? b : undefined;
		});
		expect(h).toMatchObject({ status: 'ok', paused: true, counts: { queued: 1 } });
		const age = h.oldestQueuedAgeSeconds as number;
		expect(age).toBeLessThan(10);
		const warning = (await te.api('GET', `/v1/queues/held/health?maxQueuedAgeSeconds=${age * 0.75}`)).body;
		expect(warning.status).toBe('warning');
		expect(warning.reasons[0].code).toBe('queued_age');
		expect(warning.oldestQueuedAgeSeconds).toBeGreaterThanOrEqual(age);
		expect((await te.api('GET', `/v1/queues/held/health?maxQueuedAgeSeconds=${age / 2}`)).body.status).toBe('critical');
	});

	it('answers for every queue with totals and table sizes', async () => {
		const { status, body } = await te.api('GET', '/v1/health/queues?maxFailureRate=1');
		expect(status).toBe(200);
		const byName = Object.fromEntries(body.queues.map((q: { queue: string }) => [q.queue, q]));
		expect(Object.keys(byName).sort()).toEqual(['held', 'mix', 'orphan']);
		const sum = (pick: (q: any) => number) => body.queues.reduce((n: number, q: any) => n + pick(q), 0);
		expect(body.totals).toMatchObject({
			queues: 3,
			deadLetters: 3,
			failuresLastHour: 5,
			counts: { completed: 11, failed: 3, retrying: 2, cancelled: 1, scheduled: 4, queued: 1, active: 0 },
		});
		expect(body.totals.counts.scheduled).toBe(sum((q) => q.counts.scheduled));
		expect(body.totals.status).toBe('ok');
		// The worst queue decides: the held queue's wait is over a tiny threshold.
		const strict = (await te.api('GET', '/v1/health/queues?maxFailureRate=1&maxQueuedAgeSeconds=0.001')).body;
		expect(strict.totals.status).toBe('critical');
		expect(strict.queues.find((q: { queue: string }) => q.queue === 'held').status).toBe('critical');
		expect(strict.queues.find((q: { queue: string }) => q.queue === 'mix').status).toBe('ok');
		const tables = Object.fromEntries(body.tables.map((t: { name: string }) => [t.name, t]));
		for (const name of ['tasks', 'attempts', 'queues', 'handlers', 'pgboss.job']) {
			expect(tables[name], name).toBeDefined();
			expect(tables[name].bytes).toBeGreaterThan(0);
			expect(tables[name].rows).toBeGreaterThanOrEqual(0);
		}
	});

	it('rejects bad thresholds and unknown queues', async () => {
		const bad = await te.api('GET', '/v1/queues/mix/health?maxFailureRate=1.5');
		expect(bad.status).toBe(400);
		expect(bad.body.error.details[0].field).toBe('querystring.maxFailureRate');
		for (const query of ['maxStuck=-1', 'maxDeadLetters=1.5', 'windowSeconds=0', 'maxQueuedAgeSeconds=abc', 'colour=red']) {
			const r = await te.api('GET', `/v1/health/queues?${query}`);
			expect(r.status, query).toBe(400);
			expect(r.body.error.code).toBe('invalid_request');
		}
		const missing = await te.api('GET', '/v1/queues/nope/health');
		expect(missing.status).toBe(404);
		expect(missing.body.error.code).toBe('queue_not_found');
		expect((await te.api('GET', '/v1/health/queues', undefined, { auth: false })).status).toBe(401);
		expect((await te.api('GET', '/v1/queues/mix/health', undefined, { auth: false })).status).toBe(401);
	});
});
