import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, eventually, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

describe('smoke', () => {
	let te: TestEngine;
	beforeAll(async () => {
		te = await startTestEngine();
	});
	afterAll(async () => te?.stop());

	it('delivers a task to a handler', async () => {
		const receiver = await startReceiver(() => ({ body: { done: 1 } }));
		expect((await te.api('POST', '/v1/queues', { name: 'q1' })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/q1/handlers', { url: receiver.url })).status).toBe(201);
		const enq = await te.api('POST', '/v1/tasks', { queue: 'q1', name: 'hello', payload: { a: 1 } });
		expect(enq.status).toBe(201);
		const task = await eventually(async () => {
			const r = await te.api('GET', `/v1/tasks/${enq.body.id}`);
			return r.body.state === 'completed' ? r.body : undefined;
		});
		expect(task.result).toEqual({ done: 1 });
		expect(receiver.requests[0].json.payload).toEqual({ a: 1 });
		await receiver.close();
	});
});
