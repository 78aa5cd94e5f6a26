import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * A handler that has just been registered may not be able to work yet: a Task Trigger is registered
 * before n8n has saved its secret, and answers 503 + Retry-After: 1 until then. Tasks waiting for it
 * must not burn their retries on that start.
 */
describe('a handler that is still starting', () => {
	let t: TestEngine;

	beforeAll(async () => {
		t = await startTestEngine();
	});

	afterAll(async () => {
		await t?.stop();
	});

	it('does not charge "not yet" answers in the first seconds after its registration', async () => {
		let readyAt = Infinity;
		const receiver = await startReceiver(() => (Date.now() < readyAt ? { status: 503, headers: { 'retry-after': '1' }, body: 'starting' } : { body: { done: true } }));
		try {
			// No retries at all: a single charged failure would make this task a dead letter.
			await t.api('POST', '/v1/queues', { name: 'starting', retry: { limit: 0 } });
			const task = (await t.api('POST', '/v1/tasks', { queue: 'starting', name: 'wait-for-me' })).body;
			readyAt = Date.now() + 2_500;
			expect((await t.api('POST', '/v1/queues/starting/handlers', { url: receiver.url })).status).toBe(201);

			const done = await eventually(async () => {
				const r = (await t.api('GET', `/v1/tasks/${task.id}`)).body;
				return r.state === 'completed' || r.state === 'failed' ? r : undefined;
			}, 15_000, 'the task final');
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

	it('charges the same answers once the handler has been registered for a while', async () => {
		const receiver = await startReceiver(() => ({ status: 503, headers: { 'retry-after': '1' }, body: 'down' }));
		try {
			await t.api('POST', '/v1/queues', { name: 'settled', retry: { limit: 0 } });
			await t.api('POST', '/v1/queues/settled/pause');
			const handler = (await t.api('POST', '/v1/queues/settled/handlers', { url: receiver.url })).body;
			// As if it had been registered a minute ago.
			await t.engine.pool.query(`UPDATE handlers SET created_at = now() - interval '1 minute' WHERE id = $1`, [handler.id]);
			const task = (await t.api('POST', '/v1/tasks', { queue: 'settled', name: 'refused' })).body;
			// Resuming reloads the queue with its handlers: the engine sees both changes at once.
			await t.api('POST', '/v1/queues/settled/resume');
			const done = await eventually(async () => {
				const r = (await t.api('GET', `/v1/tasks/${task.id}`)).body;
				return r.state === 'failed' ? r : undefined;
			}, 10_000, 'a dead letter');
			expect(done.attempts).toHaveLength(1);
		} finally {
			await receiver.close();
		}
	});
});
