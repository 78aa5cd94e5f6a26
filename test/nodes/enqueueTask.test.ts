// Enqueue Task, run through n8n-core against a real engine over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { jsonOf, listSearch, runNode, TIME_ZONE, type RunOptions } from './harness.js';
import { byName, startNodeTestEngine, type NodeTestEngine } from './nodeEngine.js';

let engine: NodeTestEngine;
let run: (parameters: INodeParameters, options?: Partial<RunOptions>) => ReturnType<typeof runNode>;

beforeAll(async () => {
	engine = await startNodeTestEngine();
	run = (parameters, options = {}) => runNode('enqueueTask', { resource: 'task', ...parameters }, { credentials: engine.credentials, ...options });
	for (const name of ['emails', 'reports']) expect((await engine.api('POST', '/v1/queues', { name })).status).toBe(201);
});

afterAll(async () => {
	await engine?.stop();
});

const enqueue = (extra: INodeParameters = {}): INodeParameters => ({
	operation: 'enqueue',
	queue: byName('emails'),
	taskName: 'send-welcome-email',
	payloadSource: 'inputItem',
	when: 'now',
	options: {},
	...extra,
});

async function taskInEngine(id: unknown) {
	const { status, body } = await engine.api<IDataObject>('GET', `/v1/tasks/${String(id)}`);
	expect(status).toBe(200);
	return body;
}

describe('Enqueue', () => {
	it('enqueues one task per input item, with the item as payload, paired with its item', async () => {
		const items = [{ json: { userId: 1, email: 'ada@example.com' } }, { json: { userId: 2, email: 'alan@example.com' } }];
		const result = await run(enqueue(), { items });
		expect(result.error).toBeUndefined();
		const output = result.outputs[0]!;
		expect(output).toHaveLength(2);
		for (const [index, item] of output.entries()) {
			expect(item.pairedItem).toEqual({ item: index });
			expect(item.json).toMatchObject({ queue: 'emails', name: 'send-welcome-email', state: 'queued', created: true, payload: items[index]!.json });
			expect(await taskInEngine(item.json.id)).toMatchObject({ payload: items[index]!.json, queue: 'emails' });
		}
	});

	it('resolves expressions per item: queue, name, payload and idempotency key', async () => {
		const items = [
			{ json: { orderId: 'o-17', kind: 'invoice', target: 'reports' } },
			{ json: { orderId: 'o-18', kind: 'receipt', target: 'emails' } },
		];
		const parameters = enqueue({
			queue: { __rl: true, mode: 'name', value: '={{ $json.target }}' },
			taskName: '={{ "send-" + $json.kind }}',
			payloadSource: 'defineBelow',
			payload: '={{ { order: $json.orderId, lines: [1, 2] } }}',
			options: { idempotencyKey: '={{ $json.orderId }}' },
		});
		const first = jsonOf(await run(parameters, { items }));
		expect(first.map((t) => [t.queue, t.name, t.payload, t.idempotencyKey, t.created])).toEqual([
			['reports', 'send-invoice', { order: 'o-17', lines: [1, 2] }, 'o-17', true],
			['emails', 'send-receipt', { order: 'o-18', lines: [1, 2] }, 'o-18', true],
		]);

		// The same keys again: the engine returns the original tasks instead of new ones.
		const again = jsonOf(await run(parameters, { items }));
		expect(again.map((t) => [t.id, t.created])).toEqual(first.map((t) => [t.id, false]));
	});

	it('delays a task by a value and unit', async () => {
		const before = Date.now();
		const [task] = jsonOf(await run(enqueue({ when: 'afterDelay', delay: 2, delayUnit: 'minutes' })));
		expect(task!.state).toBe('scheduled');
		const dueIn = Date.parse(String(task!.dueAt)) - before;
		expect(dueIn).toBeGreaterThanOrEqual(119_000);
		expect(dueIn).toBeLessThan(125_000);
	});

	it("reads a date without offset in the workflow's time zone, and keeps an explicit offset", async () => {
		const day = new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10);
		// The zone's offset on that day, from Intl's own formatting (not from the node's code).
		const offsetName = new Intl.DateTimeFormat('en-US', { timeZone: TIME_ZONE, timeZoneName: 'longOffset' })
			.formatToParts(new Date(`${day}T12:00:00Z`))
			.find((p) => p.type === 'timeZoneName')!.value; // e.g. GMT+01:00
		const offset = offsetName === 'GMT' ? '+00:00' : offsetName.slice(3);
		const [local] = jsonOf(await run(enqueue({ when: 'atDateTime', runAt: `${day}T09:30:00` })));
		expect(local!.dueAt).toBe(new Date(`${day}T09:30:00${offset}`).toISOString());

		const [explicit] = jsonOf(await run(enqueue({ when: 'atDateTime', runAt: `${day}T09:30:00+05:30` })));
		expect(explicit!.dueAt).toBe(new Date(`${day}T04:00:00Z`).toISOString());
	});

	it('sends priority, retry policy, timeout and target URL', async () => {
		const [task] = jsonOf(
			await run(
				enqueue({
					options: {
						priority: 'high',
						retryLimit: 7,
						retryBackoff: 'fixed',
						retryDelaySeconds: 5,
						retryMaxDelaySeconds: 30,
						timeoutSeconds: 12,
						targetUrl: 'http://127.0.0.1:9/hook',
					},
				}),
			),
		);
		expect(task).toMatchObject({
			priority: 10,
			retry: { limit: 7, backoff: 'fixed', delaySeconds: 5, maxDelaySeconds: 30 },
			maxAttempts: 8,
			timeoutSeconds: 12,
			url: 'http://127.0.0.1:9/hook',
		});
	});

	it('enqueues in bulk: one request, every item paired', async () => {
		const items = [1, 2, 3].map((n) => ({ json: { n } }));
		const result = await run(enqueue({ options: { bulk: true } }), { items });
		const output = result.outputs[0]!;
		expect(output.map((item) => [item.pairedItem, (item.json.payload as IDataObject).n, item.json.created])).toEqual([
			[{ item: 0 }, 1, true],
			[{ item: 1 }, 2, true],
			[{ item: 2 }, 3, true],
		]);
	});

	it('fails a rejected bulk request as a whole and names the item the engine complains about', async () => {
		const key = `bulk-conflict-${Date.now()}`;
		jsonOf(await run(enqueue({ options: { idempotencyKey: key } }), { items: [{ json: { v: 1 } }] }));
		const items = [{ json: { v: 9 } }, { json: { v: 1 } }, { json: { v: 2 } }];
		// Item 2 reuses the key with another payload: a 409 for tasks[2], and nothing is written.
		const parameters = enqueue({ options: { bulk: true, idempotencyKey: `={{ $json.v === 2 ? "${key}" : "${key}-" + $json.v }}` } });
		const failed = await run(parameters, { items });
		expect(failed.error?.name).toBe('NodeApiError');
		expect(failed.error!.message).toMatch(/tasks\[2\]\.idempotencyKey/);
		expect(failed.error!.context!.itemIndex).toBe(2);

		const continued = await run(parameters, { items, onError: 'continueRegularOutput' });
		expect(continued.outputs[0]!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		for (const item of continued.outputs[0]!) expect(String(item.json.error)).toMatch(/tasks\[2\]\.idempotencyKey/);
		const listed = await engine.api<{ items: IDataObject[] }>('GET', `/v1/tasks?queue=emails&limit=500`);
		expect(listed.body.items.filter((t) => t.idempotencyKey === `${key}-9`)).toEqual([]);
	});
});

describe('payload from fields below (as in Edit Fields)', () => {
	const field = (name: string, value: string | number | boolean, type: string) => ({ id: `f-${name}`, name, value, type });

	it('builds the payload from typed fields, nested by dots, per item', async () => {
		const items = [{ json: { id: 7, mail: 'ada@example.com' } }, { json: { id: 8, mail: 'alan@example.com' } }];
		const payloadFields = {
			assignments: [
				field('userId', '={{ $json.id }}', 'number'),
				field('customer.email', '={{ $json.mail }}', 'string'),
				field('customer.vip', 'true', 'boolean'),
				field('tags', '["new", "web"]', 'array'),
				field('meta', '={{ { source: "signup" } }}', 'object'),
				field('code', 42, 'string'),
			],
		};
		const tasks = jsonOf(await run(enqueue({ payloadSource: 'fieldsBelow', payloadFields }), { items }));
		expect(tasks.map((t) => t.payload)).toEqual([
			{ userId: 7, customer: { email: 'ada@example.com', vip: true }, tags: ['new', 'web'], meta: { source: 'signup' }, code: '42' },
			{ userId: 8, customer: { email: 'alan@example.com', vip: true }, tags: ['new', 'web'], meta: { source: 'signup' }, code: '42' },
		]);
		expect((await taskInEngine(tasks[0]!.id)).payload).toEqual(tasks[0]!.payload);
	});

	it('names the field whose value is not of its type, and a field name that cannot be used, before calling the engine', async () => {
		const notNumber = await run(enqueue({ payloadSource: 'fieldsBelow', payloadFields: { assignments: [field('count', 'many', 'number')] } }));
		expect(notNumber.error?.name).toBe('NodeOperationError');
		expect(notNumber.error!.message).toMatch(/^Payload field "count": /);
		const unsafe = await run(enqueue({ payloadSource: 'fieldsBelow', payloadFields: { assignments: [field('__proto__.polluted', 'x', 'string')] } }));
		expect(unsafe.error!.message).toBe('Payload field name "__proto__.polluted" is not usable');
		expect(({} as IDataObject).polluted).toBeUndefined();
		const unnamed = await run(enqueue({ payloadSource: 'fieldsBelow', payloadFields: { assignments: [field(' ', 'x', 'string')] } }));
		expect(unnamed.error!.message).toBe('A payload field has no name');
	});

	it('is an empty object without fields', async () => {
		const [task] = jsonOf(await run(enqueue({ payloadSource: 'fieldsBelow' })));
		expect(task!.payload).toEqual({});
	});
});

describe('version 1.1: policy inherited unless set, priorities by class name', () => {
	const run11 = (parameters: INodeParameters, options: Partial<RunOptions> = {}) => run(parameters, { typeVersion: 1.1, ...options });

	it("inherits the priority class's retries and timeout, and outputs the class name", async () => {
		const [task] = jsonOf(await run11(enqueue({ options: { priority: 'high' } })));
		expect(task).toMatchObject({ priority: 'high', retry: { limit: 5, backoff: 'exponential', delaySeconds: 60 }, maxAttempts: 6, timeoutSeconds: 30 });
		expect(await taskInEngine(task!.id)).toMatchObject({ priority: 10 });
		const [low] = jsonOf(await run11(enqueue({ options: { priority: 'low' } })));
		expect(low).toMatchObject({ priority: 'low', retry: { limit: 2 }, timeoutSeconds: 300 });
	});

	it("inherits the queue's settings when nothing is set", async () => {
		expect((await engine.api('POST', '/v1/queues', { name: 'strict', retry: { limit: 9, delaySeconds: 10 }, timeoutSeconds: 45 })).status).toBe(201);
		const [task] = jsonOf(await run11(enqueue({ queue: byName('strict') })));
		expect(task).toMatchObject({ priority: 'normal', retry: { limit: 9, delaySeconds: 10 }, timeoutSeconds: 45 });
	});

	it('sends the Retry section and the timeout that are set, and only those', async () => {
		const retry = { maxRetries: 7, backoff: 'fixed', delaySeconds: 5, maxDelaySeconds: 30 };
		const [task] = jsonOf(await run11(enqueue({ retry, options: { priority: 'high', timeoutSeconds: 12 } })));
		expect(task).toMatchObject({ priority: 'high', retry: { limit: 7, backoff: 'fixed', delaySeconds: 5, maxDelaySeconds: 30 }, maxAttempts: 8, timeoutSeconds: 12 });
		const [partly] = jsonOf(await run11(enqueue({ retry: { maxRetries: 0 }, options: { priority: 'low' } })));
		expect(partly).toMatchObject({ retry: { limit: 0, maxDelaySeconds: 3600 }, maxAttempts: 1, timeoutSeconds: 300 });
	});

	it('names the priority in every task output, in bulk too, and leaves other integers as they are', async () => {
		const [created] = jsonOf(await run11(enqueue({ when: 'afterDelay', delay: 1, delayUnit: 'hours', options: { priority: 'low' } })));
		const [got] = jsonOf(await run11({ operation: 'get', taskId: created!.id as string }));
		expect(got!.priority).toBe('low');
		const listed = jsonOf(await run11({ operation: 'getAll', returnAll: false, limit: 5, filters: { queue: byName('emails') } }));
		expect(listed.every((t) => ['high', 'normal', 'low'].includes(t.priority as string))).toBe(true);
		const [cancelled] = jsonOf(await run11({ operation: 'cancel', taskId: created!.id as string }));
		expect(cancelled).toMatchObject({ state: 'cancelled', priority: 'low' });
		const bulk = jsonOf(await run11(enqueue({ options: { bulk: true, priority: 'high' } }), { items: [{ json: {} }, { json: {} }] }));
		expect(bulk.map((t) => t.priority)).toEqual(['high', 'high']);

		const custom = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: 'emails', name: 'custom', priority: 5, delaySeconds: 3600 });
		expect(jsonOf(await run11({ operation: 'get', taskId: custom.body.id as string }))[0]!.priority).toBe(5);
		// Version 1 keeps the engine's integer.
		expect(jsonOf(await run({ operation: 'get', taskId: created!.id as string }))[0]!.priority).toBe(-10);
	});
});

describe('Get, Get Many, Cancel, Retry', () => {
	it('gets a task with its attempt history', async () => {
		const [created] = jsonOf(await run(enqueue(), { items: [{ json: { look: 'me' } }] }));
		const [task] = jsonOf(await run({ operation: 'get', taskId: '={{ $json.id }}' }, { items: [{ json: { id: created!.id } }] }));
		expect(task).toMatchObject({ id: created!.id, payload: { look: 'me' }, attempts: [] });
	});

	it('lists with filters, a limit across pages, or everything', async () => {
		const items = Array.from({ length: 5 }, (_, n) => ({ json: { n } }));
		jsonOf(await run(enqueue({ queue: byName('reports'), taskName: 'listed', when: 'afterDelay', delay: 1, delayUnit: 'hours' }), { items }));
		const filters = { queue: byName('reports'), state: 'scheduled', name: 'listed' };

		const limited = await run({ operation: 'getAll', returnAll: false, limit: 3, filters });
		expect(limited.outputs[0]!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 0 }, { item: 0 }]);
		const all = jsonOf(await run({ operation: 'getAll', returnAll: true, filters }));
		expect(all).toHaveLength(5);
		expect(all.every((t) => t.queue === 'reports' && t.state === 'scheduled' && t.name === 'listed')).toBe(true);
		// Newest first.
		expect(all.map((t) => (t.payload as IDataObject).n)).toEqual([4, 3, 2, 1, 0]);
	});

	it('cancels a task that has not started, then retries it', async () => {
		const [created] = jsonOf(await run(enqueue({ when: 'afterDelay', delay: 1, delayUnit: 'hours' })));
		const [cancelled] = jsonOf(await run({ operation: 'cancel', taskId: created!.id as string }));
		expect(cancelled).toMatchObject({ id: created!.id, state: 'cancelled' });
		const [retried] = jsonOf(await run({ operation: 'retry', taskId: created!.id as string }));
		expect(retried!.id).toBe(created!.id);
		expect(['queued', 'active']).toContain(retried!.state);
	});
});

describe('queue list (resource locator)', () => {
	it('offers the engine\'s queues, filtered by the search text, marking paused ones', async () => {
		expect((await engine.api('POST', '/v1/queues', { name: 'reports-paused', paused: true })).status).toBe(201);
		const all = await listSearch('enqueueTask', 'searchQueues', engine.credentials);
		expect(all.results.map((r) => r.value)).toEqual(expect.arrayContaining(['emails', 'reports', 'reports-paused']));
		const filtered = await listSearch('enqueueTask', 'searchQueues', engine.credentials, 'REPORTS');
		expect(filtered.results).toEqual([
			{ name: 'reports', value: 'reports' },
			{ name: 'reports-paused (paused)', value: 'reports-paused' },
		]);
		expect(filtered.paginationToken).toBeUndefined();
	});
});

describe('errors', () => {
	it("shows the engine's message and field for a 4xx, as a NodeApiError on the item", async () => {
		const result = await run(enqueue({ options: { timeoutSeconds: 99_999 } }), { items: [{ json: {} }] });
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error!.message).toContain('timeoutSeconds must be <= 3600');
		expect(result.error!.description).toContain('timeoutSeconds: timeoutSeconds must be <= 3600');
		expect(result.error!.description).toContain('invalid_request (HTTP 400)');
		expect(result.error!.httpCode).toBe('400');
		expect(result.error!.context!.itemIndex).toBe(0);
	});

	it('names an unknown queue (404) and a state conflict (409)', async () => {
		const missing = await run(enqueue({ queue: byName('no-such-queue') }));
		expect(missing.error!.message).toContain('"no-such-queue" does not exist');
		expect(missing.error!.httpCode).toBe('404');

		const [created] = jsonOf(await run(enqueue({ when: 'afterDelay', delay: 1, delayUnit: 'hours' })));
		const conflict = await run({ operation: 'retry', taskId: created!.id as string });
		expect(conflict.error?.name).toBe('NodeApiError');
		expect(conflict.error!.httpCode).toBe('409');
		expect(conflict.error!.message.length).toBeGreaterThan(0);
		expect(conflict.error!.message).not.toMatch(/please check your parameters|could not be processed/);
	});

	it('reports an engine that cannot be reached', async () => {
		const result = await runNode('enqueueTask', { resource: 'task', ...enqueue() }, { credentials: { ...engine.credentials, baseUrl: 'http://127.0.0.1:9' } });
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error!.message).toMatch(/ECONNREFUSED|refused/i);
		expect(result.error!.context!.itemIndex).toBe(0);
	});

	it('reports a wrong API key as an authorization failure', async () => {
		const result = await runNode('enqueueTask', { resource: 'task', ...enqueue() }, { credentials: { ...engine.credentials, apiKey: 'wrong-key' } });
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.error!.httpCode).toBe('401');
	});

	it('continues on fail with an error item paired with the failing item', async () => {
		const items = [{ json: { ok: 1 } }, { json: { bad: true } }, { json: { ok: 2 } }];
		const parameters = enqueue({ options: { timeoutSeconds: '={{ $json.bad ? 99999 : 30 }}' } });

		const regular = await run(parameters, { items, onError: 'continueRegularOutput' });
		const output = regular.outputs[0]!;
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(output[0]!.json.state).toBe('queued');
		expect(output[1]!.json).toEqual({
			error: 'timeoutSeconds must be <= 3600',
			details: [{ field: 'timeoutSeconds', message: 'timeoutSeconds must be <= 3600' }],
		});
		expect(output[2]!.json.state).toBe('queued');

		const split = await run(parameters, { items, onError: 'continueErrorOutput' });
		expect(split.outputs[0]!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 2 }]);
		expect(split.outputs[1]!.map((item) => [item.pairedItem, item.json.error])).toEqual([[{ item: 1 }, 'timeoutSeconds must be <= 3600']]);
	});

	it('rejects a bad parameter before calling the engine, as a NodeOperationError on the item', async () => {
		const items = [{ json: {} }, { json: {} }];
		const badJson = await run(enqueue({ payloadSource: 'defineBelow', payload: '={{ $itemIndex === 1 ? "{not json" : "{}" }}' }), { items });
		expect(badJson.error?.name).toBe('NodeOperationError');
		expect(badJson.error!.message).toBe('Payload JSON is not valid JSON');
		expect(badJson.error!.context!.itemIndex).toBe(1);

		const badDate = await run(enqueue({ when: 'atDateTime', runAt: 'next tuesday' }));
		expect(badDate.error?.name).toBe('NodeOperationError');
		expect(badDate.error!.message).toBe('Run At must be a date and time');
	});
});
