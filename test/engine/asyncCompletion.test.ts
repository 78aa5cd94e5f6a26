import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver, type Reply } from '../helpers/receiver.js';

/**
 * Work longer than one HTTP exchange (docs/async-completion.md): a handler answers 202 and reports
 * on the attempt later — complete, fail (by policy, never, after N seconds) or heartbeat — keyed by
 * the attempt number, so a stale report can never settle a newer attempt.
 */
describe('async completion', () => {
	let t: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	/** What the receiver answers, per queue (the `x-task-queue` header). */
	const answers = new Map<string, (index: number) => Reply>();

	beforeAll(async () => {
		t = await startTestEngine();
		receiver = await startReceiver((req) => {
			const queue = String(req.headers['x-task-queue']);
			const answer = answers.get(queue);
			const index = receiver.requests.filter((r) => r.headers['x-task-queue'] === queue).length - 1;
			return answer ? answer(index) : { status: 202 };
		});
	});

	afterAll(async () => {
		await t?.stop();
		await receiver?.close();
	});

	/** A queue with a handler answering `answer`, and one task enqueued on it; resolves once it was delivered `deliveries` times. */
	async function deliveredTask(queue: string, answer: (index: number) => Reply, taskFields: Record<string, unknown> = {}, queueFields: Record<string, unknown> = {}) {
		answers.set(queue, answer);
		expect((await t.api('POST', '/v1/queues', { name: queue, ...queueFields })).status).toBe(201);
		expect((await t.api('POST', `/v1/queues/${queue}/handlers`, { url: receiver.url })).status).toBe(201);
		const enqueued = await t.api('POST', '/v1/tasks', { queue, name: 'long-work', payload: { n: 1 }, ...taskFields });
		expect(enqueued.status).toBe(201);
		return enqueued.body.id as string;
	}

	const deliveriesOf = (id: string) => receiver.requests.filter((r) => r.json?.id === id);
	const task = async (id: string) => (await t.api('GET', `/v1/tasks/${id}`)).body;
	/** Waits until the 202 has been settled: the task shows its deadline. */
	const opened = (id: string) => eventually(async () => ((await task(id)).deadlineAt ? task(id) : undefined), 10_000, 'the async attempt to open');

	it('keeps a 202 attempt open, then completes it with the reported result; a repeat changes nothing', async () => {
		const id = await deliveredTask('async-complete', () => ({ status: 202 }));
		const open = await opened(id);
		expect(open.state).toBe('active');
		expect(open.attemptCount).toBe(1);
		const deadline = Date.parse(open.deadlineAt);
		// The default async timeout is an hour.
		expect(deadline - Date.now()).toBeGreaterThan(3500_000);
		expect(deadline - Date.now()).toBeLessThanOrEqual(3600_000);

		const done = await t.api('POST', `/v1/tasks/${id}/attempts/1/complete`, { result: { summary: 'done' } });
		expect(done.status).toBe(200);
		expect(done.body).toMatchObject({ state: 'completed', result: { summary: 'done' }, deadlineAt: null });
		expect(done.body.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'delivered', statusCode: 202, report: 'complete' })]);

		const again = await t.api('POST', `/v1/tasks/${id}/attempts/1/complete`, { result: { summary: 'other' } });
		expect(again.status).toBe(200);
		expect(again.body.result).toEqual({ summary: 'done' });
		const failAfter = await t.api('POST', `/v1/tasks/${id}/attempts/1/fail`, { error: 'too late' });
		expect(failAfter.status).toBe(409);
		expect(failAfter.body.error.code).toBe('attempt_closed');
		expect((await task(id)).state).toBe('completed');
		expect(deliveriesOf(id)).toHaveLength(1);
	});

	it('heartbeats move the deadline and show progress; a missed deadline ends the attempt as a timeout and retries it', async () => {
		const id = await deliveredTask('async-heartbeat', (i) => (i === 0 ? { status: 202 } : { status: 200, body: { second: true } }), { asyncTimeoutSeconds: 2, retry: { delaySeconds: 2 } });
		const open = await opened(id);
		const beat = await t.api('POST', `/v1/tasks/${id}/attempts/1/heartbeat`, { extendSeconds: 3, progress: { percent: 40, message: 'halfway' } });
		expect(beat.status).toBe(200);
		expect(beat.body.progress).toMatchObject({ percent: 40, message: 'halfway' });
		expect(Date.parse(beat.body.deadlineAt)).toBeGreaterThan(Date.parse(open.deadlineAt));

		const health = (await t.api('GET', '/v1/queues/async-heartbeat/health')).body;
		expect(health.async).toEqual({ open: 1, missedDeadlinesLastHour: 0 });

		// No report within 3 s: the rescuer (every 5 s) ends attempt 1 as a timeout; attempt 2 answers 200.
		// While it waits for attempt 2 (2 s), the task shows no progress: attempt 1's ended with it.
		const waiting = await eventually(async () => {
			const now = await task(id);
			return now.state === 'retrying' || now.attemptCount > 1 ? now : undefined;
		}, 20_000, 'attempt 1 to time out');
		expect(waiting).toMatchObject({ state: 'retrying', progress: null });
		const finished = await eventually(async () => ((await task(id)).state === 'completed' ? task(id) : undefined), 20_000, 'the retry to complete');
		expect(finished.attempts).toEqual([
			expect.objectContaining({ number: 1, outcome: 'retry', statusCode: 202, errorClass: 'timeout', report: null }),
			expect.objectContaining({ number: 2, outcome: 'delivered', statusCode: 200 }),
		]);
		expect(finished.result).toEqual({ second: true });
		// The progress of attempt 1 does not linger on attempt 2.
		expect(finished.progress).toBeNull();
		const after = (await t.api('GET', '/v1/queues/async-heartbeat/health')).body;
		expect(after.async).toEqual({ open: 0, missedDeadlinesLastHour: 1 });
		// A stale worker of attempt 1 cannot settle anything now (a bare POST is an empty report).
		const stale = await t.api('POST', `/v1/tasks/${id}/attempts/1/complete`);
		expect(stale.status).toBe(409);
		expect(stale.body.error.code).toBe('attempt_closed');
	}, 30_000);

	it('fails an attempt for good with retry: false, however many retries are left', async () => {
		const id = await deliveredTask('async-never', () => ({ status: 202 }));
		await opened(id);
		const failed = await t.api('POST', `/v1/tasks/${id}/attempts/1/fail`, { error: 'invoice is void', retry: false });
		expect(failed.status).toBe(200);
		expect(failed.body).toMatchObject({ state: 'failed', lastError: 'invoice is void' });
		expect(failed.body.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'failed', errorClass: 'reported', report: 'fail' })]);
		expect((await t.api('POST', `/v1/tasks/${id}/attempts/1/fail`, { error: 'again', retry: false })).status).toBe(200);
		expect(deliveriesOf(id)).toHaveLength(1);
	});

	it('retries after exactly retryAfterSeconds', async () => {
		const id = await deliveredTask('async-later', (i) => (i === 0 ? { status: 202 } : { status: 200 }));
		await opened(id);
		const failed = await t.api('POST', `/v1/tasks/${id}/attempts/1/fail`, { error: 'rate limited upstream', retryAfterSeconds: 2 });
		expect(failed.status).toBe(200);
		expect(failed.body.state).toBe('retrying');
		const dueIn = Date.parse(failed.body.dueAt) - Date.now();
		expect(dueIn).toBeGreaterThan(1000);
		expect(dueIn).toBeLessThanOrEqual(2000);
		await eventually(() => deliveriesOf(id).length === 2, 10_000, 'the second delivery');
		const [first, second] = deliveriesOf(id);
		expect(second.at - first.at).toBeGreaterThanOrEqual(1900);
	});

	it('lets a workflow fail its own task during a synchronous attempt; the later HTTP answer is ignored', async () => {
		const id = await deliveredTask('sync-report', () => ({ status: 200, delayMs: 600, body: { fromAnswer: true } }));
		// While the handler holds the request, the "workflow" reports on attempt 1 itself.
		await eventually(() => deliveriesOf(id).length === 1, 10_000, 'the delivery');
		const answer = await t.api('POST', `/v1/tasks/${id}/attempts/1/fail`, { error: 'customer unknown', retry: false });
		expect(answer.status).toBe(200);
		expect(answer.body.state).toBe('failed');
		// The 200 that arrives afterwards is stale: the task stays a dead letter with one attempt.
		await eventually(async () => t.engine.dispatcher.inFlightCount === 0, 10_000, 'the HTTP exchange to end');
		const after = await task(id);
		expect(after.state).toBe('failed');
		expect(after.result).toBeNull();
		expect(after.attempts).toHaveLength(1);
	});

	it('refuses reports it cannot apply, naming the field, and changes nothing', async () => {
		const id = await deliveredTask('async-bad', () => ({ status: 202 }), {}, { retry: { maxDelaySeconds: 60 } });
		await opened(id);
		const unknownTask = await t.api('POST', '/v1/tasks/00000000-0000-4000-8000-000000000000/attempts/1/complete', {});
		expect(unknownTask.status).toBe(404);
		const neverStarted = await t.api('POST', `/v1/tasks/${id}/attempts/2/complete`, {});
		expect(neverStarted.status).toBe(404);
		expect(neverStarted.body.error.details[0].field).toBe('n');
		const cases: [string, unknown, string][] = [
			['heartbeat', { extendSeconds: 0 }, 'extendSeconds'],
			['heartbeat', { extendSeconds: -5 }, 'extendSeconds'],
			['heartbeat', { extendSeconds: 86_401 }, 'extendSeconds'],
			['heartbeat', { progress: { percent: 140 } }, 'percent'],
			['fail', { error: 'x', retryAfterSeconds: 61 }, 'retryAfterSeconds'],
			['fail', { error: 'x', retryAfterSeconds: -1 }, 'retryAfterSeconds'],
			// A dead letter now and a retry later at once: refused, not read as either.
			['fail', { error: 'x', retry: false, retryAfterSeconds: 61 }, 'retryAfterSeconds'],
			['fail', { error: 'x', retry: false, retryAfterSeconds: 5 }, 'retryAfterSeconds'],
			['fail', {}, 'error'],
			['fail', { error: 'x', retry: 'no' }, 'retry'],
			['complete', { result: 1, extra: true }, 'extra'],
		];
		for (const [kind, body, field] of cases) {
			const res = await t.api('POST', `/v1/tasks/${id}/attempts/1/${kind}`, body);
			expect(res.status, `${kind} ${JSON.stringify(body)}`).toBe(400);
			expect(JSON.stringify(res.body.error), `${kind} ${JSON.stringify(body)}`).toContain(field);
		}
		expect((await t.api('POST', `/v1/tasks/${id}/attempts/0/complete`, {})).status).toBe(400);
		expect((await t.api('POST', `/v1/tasks/${id}/attempts/x/complete`, {})).status).toBe(400);
		const unchanged = await task(id);
		expect(unchanged).toMatchObject({ state: 'active', attemptCount: 1, progress: null });
	});
});

describe('dead-letter events', () => {
	let t: TestEngine;
	let failing: Awaited<ReturnType<typeof startReceiver>>;
	let watcher: Awaited<ReturnType<typeof startReceiver>>;

	beforeAll(async () => {
		t = await startTestEngine();
		failing = await startReceiver(() => ({ status: 400, body: { reason: 'bad input' } }));
		watcher = await startReceiver((req) => (req.json?.task?.name === 'fails-too' ? { status: 500 } : { status: 200 }));
	});

	afterAll(async () => {
		await t?.stop();
		await failing?.close();
		await watcher?.close();
	});

	it('delivers task.dead_lettered with the task and its attempts to dead_letter handlers, under its own id', async () => {
		await t.api('POST', '/v1/queues', { name: 'invoices', retry: { limit: 0 } });
		expect((await t.api('POST', '/v1/queues/invoices/handlers', { url: failing.url })).status).toBe(201);
		const handler = await t.api('POST', '/v1/queues/invoices/handlers', { url: watcher.url, events: ['dead_letter'] });
		expect(handler.status).toBe(201);
		expect(handler.body.events).toEqual(['dead_letter']);
		const id = (await t.api('POST', '/v1/tasks', { queue: 'invoices', name: 'charge', payload: { invoice: 7 } })).body.id;

		const event = await eventually(() => watcher.requests.find((r) => r.json?.task?.id === id), 15_000, 'the dead-letter event');
		expect(event.json.type).toBe('task.dead_lettered');
		expect(event.json.task).toMatchObject({ id, name: 'charge', state: 'failed', payload: { invoice: 7 } });
		expect(event.json.task.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'failed', statusCode: 400 })]);
		expect(event.headers['webhook-id']).not.toBe(id);
		expect(event.headers['x-task-event']).toBe('dead_letter');
		expect(event.headers['x-task-attempt']).toBe('1');
		expect(String(event.headers['webhook-signature'])).toMatch(/^v1,/);
		// The task handler never saw the event, and the watcher never saw the task itself.
		expect(failing.requests.every((r) => r.json?.type === undefined)).toBe(true);
		expect(watcher.requests.every((r) => r.json?.type === 'task.dead_lettered')).toBe(true);
	});

	it('never announces the failure of a dead-letter event', async () => {
		await t.api('POST', '/v1/queues', { name: 'echo', retry: { limit: 0 } });
		await t.api('POST', '/v1/queues/echo/handlers', { url: failing.url });
		await t.api('POST', '/v1/queues/echo/handlers', { url: watcher.url, events: ['dead_letter'] });
		const id = (await t.api('POST', '/v1/tasks', { queue: 'echo', name: 'fails-too' })).body.id;
		await eventually(() => watcher.requests.some((r) => r.json?.task?.id === id), 15_000, 'the event delivery');
		// The event's own delivery failed (500, no retries left): it is a dead letter, and no event about it follows.
		const events = async () => (await t.api('GET', '/v1/tasks?queue=echo&name=task.dead_lettered')).body.items;
		const [eventTask] = await eventually(async () => {
			const items = await events();
			return items.length === 1 && items[0].state === 'failed' ? items : undefined;
		}, 15_000, 'the event task to fail');
		expect(eventTask.name).toBe('task.dead_lettered');
		// Let the engine run a few more rounds: still exactly one event, delivered once.
		const marker = await t.api('POST', '/v1/tasks', { queue: 'echo', name: 'marker', url: `${watcher.url}/marker` });
		expect(marker.status, JSON.stringify(marker.body)).toBe(201);
		await eventually(() => watcher.requests.some((r) => r.path.endsWith('/marker')), 10_000, 'the marker');
		expect(await events()).toHaveLength(1);
		expect(watcher.requests.filter((r) => r.json?.type === 'task.dead_lettered' && r.headers['x-task-queue'] === 'echo')).toHaveLength(1);
	});
});

/**
 * Health and metrics of open async attempts: engine B takes a 202 and stops (a 202 is never given
 * back); engine A, with no background loops so that nothing rescues behind the test's back, shows
 * the open attempt, its heartbeat and progress, then — once its deadline passed more than 30 s ago
 * — the task as stuck, and what its rescuer made of it.
 */
describe('async attempts in health and metrics', () => {
	const schema = freshSchema();
	const env = { LEASE_GRACE_SECONDS: '1' };
	let a: TestEngine;
	let b: TestEngine | undefined;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;

	beforeAll(async () => {
		receiver = await startReceiver(() => ({ status: 202 }));
		a = await startTestEngine(env, { schema, keepSchema: true, background: false });
		b = await startTestEngine(env, { schema, keepSchema: true });
	});

	afterAll(async () => {
		await b?.stop().catch(() => undefined);
		await a?.stop();
		await receiver?.close();
		await dropSchema(schema);
	});

	it('counts open attempts, heartbeats and missed deadlines; an attempt whose heartbeats stopped is stuck, then retried', async () => {
		expect((await a.api('POST', '/v1/queues', { name: 'silent', retry: { limit: 2, delaySeconds: 3600, maxDelaySeconds: 7200 } })).status).toBe(201);
		expect((await a.api('POST', '/v1/queues/silent/handlers', { url: receiver.url })).status).toBe(201);
		// A 1 s timeout: were the open attempt judged like a synchronous one, it would be stuck after 2 s.
		const id = (await a.api('POST', '/v1/tasks', { queue: 'silent', name: 'long-work', timeoutSeconds: 1 })).body.id as string;
		const task = async () => (await a.api('GET', `/v1/tasks/${id}`)).body;
		const health = async () => (await a.api('GET', '/v1/queues/silent/health')).body;
		const metrics = async () => (await a.api('GET', '/metrics')).body as string;
		await eventually(async () => ((await task()).deadlineAt ? true : undefined), 30_000, 'the async attempt to open');
		await b!.stop();
		b = undefined;

		const beat = await a.api('POST', `/v1/tasks/${id}/attempts/1/heartbeat`, { progress: { percent: 30, message: 'reading' } });
		expect(beat.status).toBe(200);
		await new Promise((resolve) => setTimeout(resolve, 2500));
		const open = await health();
		expect(open.async).toEqual({ open: 1, missedDeadlinesLastHour: 0 });
		expect(open.stuck).toEqual({ count: 0, taskIds: [] });
		expect((await task()).progress).toMatchObject({ percent: 30, message: 'reading' });
		const before = await metrics();
		expect(before).toMatch(/^task_engine_async_open_attempts\{queue="silent"\} 1$/m);
		expect(before).toMatch(/^task_engine_async_reports_total\{queue="silent",kind="heartbeat"\} 1$/m);
		expect(before).toMatch(/^task_engine_stuck_tasks\{queue="silent"\} 0$/m);

		// No heartbeat since: as if the last one had set a deadline that passed 31 s ago.
		await a.engine.pool.query(`UPDATE tasks SET deadline_at = now() - interval '31 seconds', lease_expires_at = now() - interval '31 seconds' WHERE id = $1`, [id]);
		const stuck = await health();
		expect(stuck.stuck).toEqual({ count: 1, taskIds: [id] });
		expect(stuck.async).toEqual({ open: 1, missedDeadlinesLastHour: 0 });
		expect(await metrics()).toMatch(/^task_engine_stuck_tasks\{queue="silent"\} 1$/m);

		expect(await a.engine.rescuer.runOnce()).toMatchObject({ rescued: 1, retrying: 1, failed: 0 });
		const retried = await task();
		expect(retried).toMatchObject({ state: 'retrying', deadlineAt: null });
		expect(retried.attempts).toEqual([expect.objectContaining({ number: 1, outcome: 'retry', statusCode: 202, errorClass: 'timeout' })]);
		const after = await health();
		expect(after.async).toEqual({ open: 0, missedDeadlinesLastHour: 1 });
		expect(after.stuck).toEqual({ count: 0, taskIds: [] });
		const scraped = await metrics();
		expect(scraped).toMatch(/^task_engine_async_open_attempts\{queue="silent"\} 0$/m);
		expect(scraped).toMatch(/^task_engine_async_missed_deadlines_total 1$/m);
		expect(receiver.requests).toHaveLength(1);
	}, 30_000);
});
