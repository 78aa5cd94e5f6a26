import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver, type Reply, type ReceivedRequest } from '../helpers/receiver.js';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

describe('delivery: signing, outcomes, retries, dead letters', () => {
	let te: TestEngine;
	const receivers: Receiver[] = [];
	let n = 0;

	beforeAll(async () => {
		te = await startTestEngine({ POLL_INTERVAL_MS: '200' });
	});
	afterEach(async () => {
		await Promise.all(receivers.splice(0).map((r) => r.close()));
	});
	afterAll(async () => te?.stop());

	/** A fresh queue with a handler answering with `respond`. */
	async function queueWithHandler(respond: (req: ReceivedRequest, i: number) => Reply | Promise<Reply>, queueBody: object = {}) {
		const receiver = await startReceiver(respond);
		receivers.push(receiver);
		const name = `q${++n}`;
		expect((await te.api('POST', '/v1/queues', { name, ...queueBody })).status).toBe(201);
		const handler = await te.api('POST', `/v1/queues/${name}/handlers`, { url: receiver.url });
		return { name, receiver, handler: handler.body as { id: string; secret: string } };
	}

	async function enqueue(body: object) {
		const res = await te.api('POST', '/v1/tasks', body);
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body as { id: string };
	}

	async function finalTask(id: string, timeoutMs = 20_000) {
		return eventually(async () => {
			const r = await te.api('GET', `/v1/tasks/${id}`);
			return ['completed', 'failed'].includes(r.body.state) ? r.body : undefined;
		}, timeoutMs, `task ${id} to finish`);
	}

	it('signs deliveries so a Standard Webhooks verifier accepts them, with the documented body and headers', async () => {
		const { name, receiver, handler } = await queueWithHandler(() => ({ body: { sent: true } }));
		const task = await enqueue({ queue: name, name: 'email.send', payload: { to: 'x@y.z' } });
		const done = await finalTask(task.id);
		expect(done.state).toBe('completed');
		expect(done.result).toEqual({ sent: true });
		const req = receiver.requests[0];
		const verified = new Webhook(handler.secret).verify(req.body, {
			'webhook-id': String(req.headers['webhook-id']),
			'webhook-timestamp': String(req.headers['webhook-timestamp']),
			'webhook-signature': String(req.headers['webhook-signature']),
		});
		expect(verified).toMatchObject({ id: task.id, queue: name, name: 'email.send', payload: { to: 'x@y.z' }, attempt: 1, maxAttempts: 4 });
		expect(req.json.scheduledFor).toBe(done.dueAt);
		expect(req.json.createdAt).toBe(done.createdAt);
		expect(req.headers['webhook-id']).toBe(task.id);
		expect(req.headers['x-task-attempt']).toBe('1');
		expect(req.headers['x-task-queue']).toBe(name);
		expect(done.attempts).toHaveLength(1);
		expect(done.attempts[0]).toMatchObject({ number: 1, outcome: 'delivered', statusCode: 200, handlerId: handler.id });
	});

	it('retries a 500 with backoff, then completes on attempt 2 with a fresh signature', async () => {
		const { name, receiver, handler } = await queueWithHandler((_r, i) => (i === 0 ? { status: 500, body: 'boom' } : {}));
		const task = await enqueue({ queue: name, name: 'flaky', retry: { delaySeconds: 1 } });
		const done = await finalTask(task.id);
		expect(done.state).toBe('completed');
		expect(done.attemptCount).toBe(2);
		expect(done.attempts.map((a: { outcome: string; statusCode: number }) => [a.outcome, a.statusCode])).toEqual([
			['retry', 500],
			['delivered', 200],
		]);
		expect(done.attempts[0].responseSnippet).toBe('boom');
		const gap = receiver.requests[1].at - receiver.requests[0].at;
		expect(gap).toBeGreaterThanOrEqual(700); // 1 s −25 % jitter
		expect(gap).toBeLessThan(3000);
		expect(receiver.requests[1].headers['webhook-id']).toBe(task.id);
		expect(receiver.requests[1].headers['x-task-attempt']).toBe('2');
		expect(receiver.requests[1].headers['webhook-signature']).not.toBe(receiver.requests[0].headers['webhook-signature']);
		const wh = new Webhook(handler.secret);
		for (const req of receiver.requests) {
			expect(() =>
				wh.verify(req.body, {
					'webhook-id': String(req.headers['webhook-id']),
					'webhook-timestamp': String(req.headers['webhook-timestamp']),
					'webhook-signature': String(req.headers['webhook-signature']),
				}),
			).not.toThrow();
		}
	});

	it('fails at once on a 400, a redirect, or x-task-no-retry — dead letters, not lost', async () => {
		const { name, receiver } = await queueWithHandler((req) => {
			if (req.json.name === 'bad') return { status: 400, body: { error: 'invalid order' } };
			if (req.json.name === 'moved') return { status: 302, headers: { location: '/elsewhere' } };
			return { status: 503, headers: { 'x-task-no-retry': 'true' } };
		});
		const bad = await enqueue({ queue: name, name: 'bad' });
		const moved = await enqueue({ queue: name, name: 'moved' });
		const stop = await enqueue({ queue: name, name: 'stop' });
		const [b, m, s] = await Promise.all([finalTask(bad.id), finalTask(moved.id), finalTask(stop.id)]);
		expect(b).toMatchObject({ state: 'failed', attemptCount: 1 });
		expect(b.attempts[0]).toMatchObject({ outcome: 'failed', statusCode: 400 });
		expect(m.attempts[0]).toMatchObject({ outcome: 'failed', statusCode: 302, errorClass: 'redirect' });
		expect(s.attempts[0]).toMatchObject({ outcome: 'failed', errorClass: 'no_retry' });
		expect(receiver.requests.filter((r) => r.path !== '/hook')).toHaveLength(0);
		const groups = (await te.api('GET', `/v1/dead-letters?queue=${name}`)).body.groups;
		expect(groups.reduce((sum: number, g: { count: number }) => sum + g.count, 0)).toBe(3);
	});

	it('honours Retry-After in seconds', async () => {
		const { name, receiver } = await queueWithHandler((_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '3' } } : {}));
		const task = await enqueue({ queue: name, name: 'throttled', retry: { delaySeconds: 0, maxDelaySeconds: 60 } });
		const done = await finalTask(task.id);
		expect(done.state).toBe('completed');
		const gap = receiver.requests[1].at - receiver.requests[0].at;
		expect(gap).toBeGreaterThanOrEqual(2900);
		expect(gap).toBeLessThan(6000);
	});

	it('retries an attempt that times out', async () => {
		const { name } = await queueWithHandler((_r, i) => (i === 0 ? { delayMs: 3000 } : {}));
		const task = await enqueue({ queue: name, name: 'slow', timeoutSeconds: 1, retry: { delaySeconds: 0 } });
		const done = await finalTask(task.id);
		expect(done.state).toBe('completed');
		expect(done.attempts[0]).toMatchObject({ outcome: 'retry', errorClass: 'timeout' });
		expect(done.attempts[0].durationMs).toBeGreaterThanOrEqual(900);
		expect(done.attempts[0].durationMs).toBeLessThan(2500);
	});

	it('dead-letters a task after its attempts, groups it, and redrives it to completion keeping its id', async () => {
		let healthy = false;
		const { name, receiver } = await queueWithHandler(() => (healthy ? {} : { status: 502, body: 'upstream 7f3a down' }));
		const tasks = await Promise.all([0, 1, 2].map(() => enqueue({ queue: name, name: 'doomed', retry: { limit: 2, delaySeconds: 0 } })));
		for (const t of tasks) {
			const done = await finalTask(t.id);
			expect(done).toMatchObject({ state: 'failed', attemptCount: 3, lastError: expect.stringContaining('502') });
		}
		const { groups } = (await te.api('GET', `/v1/dead-letters?queue=${name}`)).body;
		expect(groups).toHaveLength(1);
		expect(groups[0]).toMatchObject({ queue: name, statusCode: 502, count: 3 });
		expect([...groups[0].taskIds].sort()).toEqual(tasks.map((t) => t.id).sort());

		expect((await te.api('POST', '/v1/dead-letters/redrive', {})).status).toBe(400);
		healthy = true;
		const redrive = await te.api('POST', '/v1/dead-letters/redrive', { signature: groups[0].signature });
		expect(redrive.body.redriven).toBe(3);
		expect(redrive.body.remaining).toBe(0);
		for (const t of tasks) {
			const done = await finalTask(t.id);
			expect(done).toMatchObject({ id: t.id, state: 'completed', attemptCount: 4, maxAttempts: 6 });
			expect(done.attempts.map((a: { number: number }) => a.number)).toEqual([1, 2, 3, 4]);
		}
		expect(receiver.requests).toHaveLength(12);
		expect((await te.api('GET', `/v1/dead-letters?queue=${name}`)).body.groups).toEqual([]);
	});

	it('discards dead letters by id', async () => {
		const { name } = await queueWithHandler(() => ({ status: 422 }));
		const t = await enqueue({ queue: name, name: 'reject' });
		await finalTask(t.id);
		const res = await te.api('DELETE', '/v1/dead-letters', { ids: [t.id] });
		expect(res.body.discarded).toBe(1);
		expect((await te.api('GET', `/v1/tasks/${t.id}`)).status).toBe(404);
	});

	it("signs a task with its own url with the queue's secret", async () => {
		const receiver = await startReceiver(() => ({}));
		receivers.push(receiver);
		await te.api('POST', '/v1/queues', { name: 'direct' });
		const queue = (await te.api('GET', '/v1/queues/direct')).body;
		const t = await enqueue({ queue: 'direct', name: 'ping', url: receiver.url });
		expect((await finalTask(t.id)).state).toBe('completed');
		const req = receiver.requests[0];
		expect(() =>
			new Webhook(queue.secret).verify(req.body, {
				'webhook-id': String(req.headers['webhook-id']),
				'webhook-timestamp': String(req.headers['webhook-timestamp']),
				'webhook-signature': String(req.headers['webhook-signature']),
			}),
		).not.toThrow();
	});

	it('keeps a task queued while its queue has no handler, and delivers it once one registers', async () => {
		await te.api('POST', '/v1/queues', { name: 'orphan' });
		const t = await enqueue({ queue: 'orphan', name: 'wait' });
		// A barrier instead of a pause: a task of the same queue with its own URL is claimed and
		// delivered by the same loop, so once it is done the loop has had its chance at the other one.
		const barrier = await startReceiver(() => ({}));
		receivers.push(barrier);
		const through = await enqueue({ queue: 'orphan', name: 'barrier', url: barrier.url });
		expect((await finalTask(through.id)).state).toBe('completed');
		expect((await te.api('GET', `/v1/tasks/${t.id}`)).body).toMatchObject({ state: 'queued', attemptCount: 0 });
		const receiver = await startReceiver(() => ({}));
		receivers.push(receiver);
		await te.api('POST', '/v1/queues/orphan/handlers', { url: receiver.url });
		expect((await finalTask(t.id)).state).toBe('completed');
	});

	it('marks a handler unhealthy after repeated 404s (an inactive n8n workflow) without losing the task', async () => {
		let up = false;
		const { name, handler } = await queueWithHandler(() => (up ? {} : { status: 404 }));
		const t = await enqueue({ queue: name, name: 'n8n', retry: { limit: 10, delaySeconds: 0 } });
		await eventually(async () => (await te.api('GET', `/v1/queues/${name}/handlers/${handler.id}`)).body.healthy === false, 10_000, 'unhealthy');
		up = true;
		const done = await finalTask(t.id);
		expect(done.state).toBe('completed');
		expect((await te.api('GET', `/v1/queues/${name}/handlers/${handler.id}`)).body.healthy).toBe(true);
	});

	it('uses test-mode handlers only while a queue has no production handler', async () => {
		const editor = await startReceiver(() => ({}));
		const live = await startReceiver(() => ({}));
		receivers.push(editor, live);
		await te.api('POST', '/v1/queues', { name: 'testing' });
		await te.api('POST', '/v1/queues/testing/handlers', { url: editor.url, mode: 'test' });
		const first = await enqueue({ queue: 'testing', name: 'try' });
		await finalTask(first.id);
		expect(editor.requests.map((r) => r.json.id)).toEqual([first.id]);
		await te.api('POST', '/v1/queues/testing/handlers', { url: live.url });
		const second = await enqueue({ queue: 'testing', name: 'live' });
		await finalTask(second.id);
		expect(live.requests.map((r) => r.json.id)).toEqual([second.id]);
		expect(editor.requests).toHaveLength(1);
	});

	it('refuses to cancel a task while it is being delivered', async () => {
		const { name, receiver } = await queueWithHandler(() => ({ delayMs: 1500 }));
		const t = await enqueue({ queue: name, name: 'busy' });
		await eventually(() => receiver.requests.length === 1, 5000, 'delivery started');
		const refused = await te.api('POST', `/v1/tasks/${t.id}/cancel`);
		expect(refused.status).toBe(409);
		expect(refused.body.error).toMatchObject({ code: 'task_not_cancellable', details: [{ field: 'id' }] });
		expect((await finalTask(t.id)).state).toBe('completed');
	});

	it('spreads deliveries over several handlers', async () => {
		const a = await startReceiver(() => ({}));
		const b = await startReceiver(() => ({}));
		receivers.push(a, b);
		await te.api('POST', '/v1/queues', { name: 'spread' });
		await te.api('POST', '/v1/queues/spread/handlers', { url: a.url });
		await te.api('POST', '/v1/queues/spread/handlers', { url: b.url });
		const tasks = await te.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 20 }, () => ({ queue: 'spread', name: 's' })) });
		for (const t of tasks.body.items) await finalTask(t.id);
		expect(a.requests.length + b.requests.length).toBe(20);
		expect(a.requests.length).toBeGreaterThanOrEqual(5);
		expect(b.requests.length).toBeGreaterThanOrEqual(5);
	});
});
