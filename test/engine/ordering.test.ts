import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

describe('ordering, pause, limits and timeliness', () => {
	let te: TestEngine;
	const receivers: Receiver[] = [];
	beforeAll(async () => {
		te = await startTestEngine({ POLL_INTERVAL_MS: '2000' });
	});
	afterEach(async () => {
		await Promise.all(receivers.splice(0).map((r) => r.close()));
	});
	afterAll(async () => te?.stop());

	/**
	 * A task through another queue of the same engine, delivered: by then the engine has handled
	 * every wake-up sent before it (notifications and claim rounds run in order), so whatever it was
	 * going to deliver from a paused queue, it would have. Used instead of waiting a fixed time.
	 */
	async function engineHasCaughtUp(tag: string) {
		const marker = await startReceiver();
		receivers.push(marker);
		const queue = `marker-${tag}`;
		expect((await te.api('POST', '/v1/queues', { name: queue })).status).toBe(201);
		expect((await te.api('POST', '/v1/tasks', { queue, name: 'marker', url: marker.url })).status).toBe(201);
		await eventually(() => marker.requests.length === 1, 10_000, 'the marker delivery');
	}

	async function receiverQueue(name: string, body: object, delayMs = 0) {
		const receiver = await startReceiver(() => ({ delayMs }));
		receivers.push(receiver);
		expect((await te.api('POST', '/v1/queues', { name, ...body })).status).toBe(201);
		await te.api('POST', `/v1/queues/${name}/handlers`, { url: receiver.url });
		return receiver;
	}

	it('delivers due tasks high before normal before low, FIFO within a priority (concurrency 1)', async () => {
		const receiver = await receiverQueue('prio', { concurrency: 1, paused: true });
		const order = [
			['low', 'low-1'],
			['normal', 'normal-1'],
			['high', 'high-1'],
			['low', 'low-2'],
			['high', 'high-2'],
			['normal', 'normal-2'],
		];
		for (const [priority, name] of order) await te.api('POST', '/v1/tasks', { queue: 'prio', name, priority });
		await engineHasCaughtUp('prio');
		expect(receiver.requests).toHaveLength(0); // paused: accepted, not delivered
		await te.api('POST', '/v1/queues/prio/resume');
		await eventually(() => receiver.requests.length === 6, 10_000, 'six deliveries');
		expect(receiver.requests.map((r) => r.json.name)).toEqual(['high-1', 'high-2', 'normal-1', 'normal-2', 'low-1', 'low-2']);
		expect(receiver.maxInProgress).toBe(1);
	});

	it('never exceeds the concurrency limit', async () => {
		const receiver = await receiverQueue('conc', { concurrency: 3 }, 100);
		await te.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 30 }, (_, i) => ({ queue: 'conc', name: `c${i}` })) });
		await eventually(() => receiver.requests.length === 30, 15_000, 'thirty deliveries');
		expect(receiver.maxInProgress).toBe(3);
	});

	it('holds the rate limit (fixed window shared by all engines)', async () => {
		const receiver = await receiverQueue('rate', { rateLimit: { max: 5, periodSeconds: 2 } });
		await te.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 12 }, (_, i) => ({ queue: 'rate', name: `r${i}` })) });
		await eventually(() => receiver.requests.length === 12, 15_000, 'twelve deliveries');
		const times = receiver.requests.map((r) => r.at).sort((a, b) => a - b);
		// 12 tasks at 5 per 2 s need at least two full windows after the first.
		expect(times[11] - times[0]).toBeGreaterThanOrEqual(3500);
		for (let i = 5; i < times.length; i++) expect(times[i] - times[i - 5]).toBeGreaterThanOrEqual(1000);
	});

	it('stops delivering while paused and resumes where it left off', async () => {
		const receiver = await receiverQueue('pausing', { concurrency: 1 }, 50);
		await te.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 10 }, (_, i) => ({ queue: 'pausing', name: `p${i}` })) });
		await eventually(() => receiver.requests.length >= 2, 5000, 'two deliveries');
		await te.api('POST', '/v1/queues/pausing/pause');
		// The one in flight finishes and is written; then nothing more starts.
		await eventually(() => te.engine.dispatcher.inFlightCount === 0, 5000, 'the delivery in flight to be written');
		const seen = receiver.requests.length;
		await engineHasCaughtUp('pausing');
		expect(receiver.requests.length).toBe(seen);
		expect(seen).toBeLessThan(10);
		await te.api('POST', '/v1/queues/pausing/resume');
		await eventually(() => receiver.requests.length === 10, 10_000, 'all ten');
	});

	it('picks up a due task at once and a delayed task at its due time, not at a polling tick', async () => {
		// POLL_INTERVAL_MS is 2 s here: anything much faster proves notification and timers work.
		const receiver = await receiverQueue('timely', {});
		const sentAt = Date.now();
		await te.api('POST', '/v1/tasks', { queue: 'timely', name: 'now' });
		await eventually(() => receiver.requests.length === 1, 5000);
		expect(receiver.requests[0].at - sentAt).toBeLessThan(1000);

		const delayed = await te.api('POST', '/v1/tasks', { queue: 'timely', name: 'later', delaySeconds: 1.5 });
		await eventually(() => receiver.requests.length === 2, 5000);
		const lateness = receiver.requests[1].at - Date.parse(delayed.body.dueAt);
		expect(lateness).toBeGreaterThanOrEqual(-50);
		expect(lateness).toBeLessThan(1000);
	});
});
