import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver, type Reply } from '../helpers/receiver.js';

/**
 * A handler that has just been registered may not be able to work yet: a Task Trigger is registered
 * before n8n has saved its secret, and answers 503 + Retry-After: 1 + `x-task-handler-starting: true`
 * until then. Tasks waiting for it must not burn their retries on that start; any other 503 is an
 * ordinary failure.
 */
const STARTING: Reply = { status: 503, headers: { 'retry-after': '1', 'x-task-handler-starting': 'true' }, body: 'starting' };

describe('a handler that is still starting', () => {
	let t: TestEngine;

	beforeAll(async () => {
		t = await startTestEngine();
	});

	afterAll(async () => {
		await t?.stop();
	});

	/** A task on a queue without retries: a single charged failure makes it a dead letter. */
	async function oneTask(queue: string, handlerUrl: string, handlerAgeSeconds = 0) {
		await t.api('POST', '/v1/queues', { name: queue, retry: { limit: 0 } });
		await t.api('POST', `/v1/queues/${queue}/pause`);
		const handler = (await t.api('POST', `/v1/queues/${queue}/handlers`, { url: handlerUrl })).body;
		if (handlerAgeSeconds > 0) {
			await t.engine.pool.query(`UPDATE handlers SET created_at = now() - make_interval(secs => $2) WHERE id = $1`, [handler.id, handlerAgeSeconds]);
		}
		const task = (await t.api('POST', '/v1/tasks', { queue, name: 'work' })).body;
		// Resuming reloads the queue with its handlers: the engine sees every change above at once.
		await t.api('POST', `/v1/queues/${queue}/resume`);
		return eventually(async () => {
			const r = (await t.api('GET', `/v1/tasks/${task.id}`)).body;
			return r.state === 'completed' || r.state === 'failed' ? r : undefined;
		}, 15_000, 'the task final');
	}

	it('does not charge "still starting" answers in the first seconds after its registration', async () => {
		const readyAt = Date.now() + 2_500;
		const receiver = await startReceiver(() => (Date.now() < readyAt ? STARTING : { body: { done: true } }));
		try {
			const done = await oneTask('starting', receiver.url);
			expect(done.state).toBe('completed');
			const refusals = done.attempts.filter((a: { statusCode: number }) => a.statusCode === 503);
			expect(refusals.length).toBeGreaterThanOrEqual(2);
			// Spaced by Retry-After, not hammered.
			const gaps = refusals.slice(1).map((a: { startedAt: string }, i: number) => Date.parse(a.startedAt) - Date.parse(refusals[i].startedAt));
			expect(Math.min(...gaps)).toBeGreaterThanOrEqual(900);
		} finally {
			await receiver.close();
		}
	});

	it('charges the same answer once the handler has been registered for a while', async () => {
		const receiver = await startReceiver(() => STARTING);
		try {
			const done = await oneTask('registered-long-ago', receiver.url, 60);
			expect(done.state).toBe('failed');
			expect(done.attempts).toHaveLength(1);
		} finally {
			await receiver.close();
		}
	});

	it('charges a plain 503 from a new handler: only the explicit answer means "starting"', async () => {
		const receiver = await startReceiver(() => ({ status: 503, headers: { 'retry-after': '1' }, body: 'down' }));
		try {
			const done = await oneTask('plain-503', receiver.url);
			expect(done.state).toBe('failed');
			expect(done.attempts).toHaveLength(1);
		} finally {
			await receiver.close();
		}
	});
});
