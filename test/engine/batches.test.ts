import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, verifySignature } from '../../engine/src/delivery/signature.js';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver, type ReceivedRequest } from '../helpers/receiver.js';

function signedBy(secret: string, r: ReceivedRequest): boolean {
	const message = { id: String(r.headers['webhook-id']), timestamp: String(r.headers['webhook-timestamp']), signature: String(r.headers['webhook-signature']), body: r.body };
	return verifySignature([secret], message, { now: new Date() }).ok;
}

describe('batches: a 10,000-item batch in chunks with failures, callback and retry-failed', () => {
	let te: TestEngine;
	beforeAll(async () => {
		te = await startTestEngine();
	});
	afterAll(async () => te?.stop());

	it('delivers every chunk within the concurrency, counts exactly, calls back once, and re-runs only the failed chunk', async () => {
		const FLAKY = 7; // fails twice, then succeeds
		const BROKEN = 42; // fails on every attempt of the first run
		let brokenHealed = false;
		let inProgress = 0;
		let maxInProgress = 0;
		const chunks = await startReceiver(async (r) => {
			inProgress += 1;
			maxInProgress = Math.max(maxInProgress, inProgress);
			await new Promise((resolve) => setTimeout(resolve, 15));
			inProgress -= 1;
			const { chunkIndex } = r.json.batch;
			if (chunkIndex === FLAKY && r.json.attempt <= 2) return { status: 500 };
			if (chunkIndex === BROKEN && !brokenHealed) return { status: 503 };
			return { body: { sum: r.json.payload.items.length } };
		});
		const callback = await startReceiver();
		const batchEvents = await startReceiver();
		try {
			const queue = await te.api('POST', '/v1/queues', { name: 'imports' });
			expect(queue.status).toBe(201);
			expect((await te.api('POST', '/v1/queues/imports/handlers', { url: chunks.url, events: ['task'] })).status).toBe(201);
			const eventHandler = await te.api('POST', '/v1/queues/imports/handlers', { url: batchEvents.url, events: ['batch'] });
			expect(eventHandler.status).toBe(201);

			const items = Array.from({ length: 10_000 }, (_, i) => ({ row: i }));
			const created = await te.api('POST', '/v1/batches', {
				queue: 'imports',
				name: 'import-rows',
				items,
				chunkSize: 100,
				concurrency: 4,
				callbackUrl: callback.url,
				payload: { source: 'crm' },
				retry: { limit: 2, delaySeconds: 0 },
			});
			expect(created.status).toBe(202);
			expect(created.body).toMatchObject({ state: 'running', totalItems: 10_000, totalChunks: 100 });
			const id = created.body.id as string;

			const finished = await eventually(async () => {
				const b = (await te.api('GET', `/v1/batches/${id}`)).body;
				return b.finishedAt ? b : undefined;
			}, 60_000, 'the batch to finish');
			expect(finished).toMatchObject({
				state: 'completed_with_failures',
				totalItems: 10_000,
				totalChunks: 100,
				items: { processed: 9_900, failed: 100 },
				chunks: { completed: 99, failed: 1, active: 0, pending: 0, cancelled: 0 },
				etaSeconds: 0,
				runs: 1,
			});
			expect(finished.throughputPerSecond).toBeGreaterThan(0);
			expect(maxInProgress).toBeLessThanOrEqual(4);
			expect(maxInProgress).toBeGreaterThan(1);

			// Every item was delivered in its chunk, in order, with the batch payload and reference.
			const delivered = new Map<number, ReceivedRequest>();
			for (const r of chunks.requests) delivered.set(r.json.batch.chunkIndex, r);
			expect(delivered.size).toBe(100);
			for (const [index, r] of delivered) {
				expect(r.json.batch).toEqual({ id, chunkIndex: index, totalChunks: 100 });
				expect(r.json.payload.source).toBe('crm');
				expect(r.json.payload.items).toEqual(items.slice(index * 100, index * 100 + 100));
			}
			const attemptsOf = (index: number) => chunks.requests.filter((r) => r.json.batch.chunkIndex === index).map((r) => r.json.attempt);
			expect(attemptsOf(FLAKY)).toEqual([1, 2, 3]);
			expect(attemptsOf(BROKEN)).toEqual([1, 2, 3]);
			expect(attemptsOf(0)).toEqual([1]);

			// The callback: once, signed with the queue's secret, carrying the counters and state.
			await eventually(() => callback.requests.length >= 1 && batchEvents.requests.length >= 1, 15_000, 'callback and batch event');
			const secret = queue.body.secret as string;
			const [call] = callback.requests;
			expect(signedBy(secret, call)).toBe(true);
			expect(signedBy(generateSecret(), call)).toBe(false);
			expect(call.json.name).toBe('batch.finished');
			expect(call.json.payload.batch).toMatchObject({ id, state: 'completed_with_failures', items: { processed: 9_900, failed: 100 }, chunks: { completed: 99, failed: 1 } });
			expect(call.json.batch).toBeUndefined();
			const [event] = batchEvents.requests;
			expect(signedBy(eventHandler.body.secret, event)).toBe(true);
			expect(event.json.payload.batch).toMatchObject({ id, state: 'completed_with_failures' });
			const callbackTasks = async () => (await te.api('GET', '/v1/tasks?queue=imports&name=batch.finished')).body.items as { state: string; url: string | null }[];
			await eventually(async () => (await callbackTasks()).every((t) => t.state === 'completed'), 10_000, 'completion tasks done');
			expect((await callbackTasks()).length).toBe(2); // one callback + one batch event
			expect(callback.requests.length).toBe(1);
			expect(batchEvents.requests.length).toBe(1);

			// retry-failed re-runs only the broken chunk, under the same task id, and calls back again.
			const brokenTaskId = delivered.get(BROKEN)?.headers['webhook-id'];
			const before = chunks.requests.length;
			brokenHealed = true;
			const retried = await te.api('POST', `/v1/batches/${id}/retry-failed`);
			expect(retried.status).toBe(200);
			expect(retried.body).toMatchObject({ state: 'running', items: { failed: 0 }, chunks: { failed: 0, active: 1, completed: 99 } });
			const again = await eventually(async () => {
				const b = (await te.api('GET', `/v1/batches/${id}`)).body;
				return b.state === 'completed' ? b : undefined;
			}, 20_000, 'the re-run to finish');
			expect(again).toMatchObject({ items: { processed: 10_000, failed: 0 }, chunks: { completed: 100, failed: 0, active: 0, pending: 0 }, runs: 2 });
			const rerun = chunks.requests.slice(before);
			expect(rerun.map((r) => r.json.batch.chunkIndex)).toEqual([BROKEN]);
			expect(rerun[0].headers['webhook-id']).toBe(brokenTaskId);
			expect(rerun[0].json.attempt).toBe(4); // attempt numbers continue
			await eventually(() => callback.requests.length === 2 && batchEvents.requests.length === 2, 15_000, 'second callback');
			expect(callback.requests[1].json.payload.batch).toMatchObject({ state: 'completed', items: { processed: 10_000, failed: 0 }, runs: 2 });
			expect(signedBy(secret, callback.requests[1])).toBe(true);

			// Nothing left to retry.
			const nothing = await te.api('POST', `/v1/batches/${id}/retry-failed`);
			expect(nothing.status).toBe(409);
			expect(nothing.body.error.code).toBe('batch_not_retryable');
		} finally {
			await Promise.all([chunks.close(), callback.close(), batchEvents.close()]);
		}
	});
});
