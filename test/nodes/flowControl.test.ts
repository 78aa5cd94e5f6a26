// Flow control from the nodes (docs/flow-control.md), run through n8n-core against a real engine over HTTP:
// Enqueue Task's Concurrency Key and Debounce options, the Task Trigger's Queue Settings, and the
// throttled keys in Queue Health's output. A recording proxy in front of the engine shows the exact
// request bodies (an option left empty sends no field); the answers are the engine's own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeHelpers, type IDataObject, type INode, type INodeParameters, type INodeProperties, type INodeTypeDescription } from 'n8n-workflow';
import { EnqueueTask } from '../../nodes/EnqueueTask/EnqueueTask.node';
import { TaskTrigger } from '../../nodes/TaskTrigger/TaskTrigger.node';
import { eventually, TEST_API_KEY } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';
import { jsonOf, runNode, triggerHarness, type EngineCredentials, type RunOptions, type TriggerHarness } from './harness.js';
import { byName, startNodeTestEngine, type NodeTestEngine } from './nodeEngine.js';
import { startRecordingProxy } from './recordingProxy.js';
import { startWebhookServer } from './webhookServer.js';

const WRITE_KEY = 'write-key-flow-control-0001';

let engine: NodeTestEngine;
let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
let admin: EngineCredentials;
let writer: EngineCredentials;

beforeAll(async () => {
	engine = await startNodeTestEngine({ API_KEYS: `${TEST_API_KEY},${WRITE_KEY}:write` });
	proxy = await startRecordingProxy(engine.baseUrl);
	admin = { baseUrl: proxy.baseUrl, apiKey: TEST_API_KEY };
	writer = { baseUrl: proxy.baseUrl, apiKey: WRITE_KEY };
	// No handler: due tasks wait, so each test sees its tasks as the enqueues left them.
	expect((await engine.api('POST', '/v1/queues', { name: 'chats' })).status).toBe(201);
});

afterAll(async () => {
	await proxy?.close();
	await engine?.stop();
});

afterEach(() => {
	proxy.take();
});

const enqueue = (options: IDataObject = {}, extra: INodeParameters = {}): INodeParameters => ({
	resource: 'task',
	operation: 'enqueue',
	queue: byName('chats'),
	taskName: 'reply',
	payloadSource: 'inputItem',
	when: 'now',
	options,
	...extra,
});

const run = (parameters: INodeParameters, options: Partial<RunOptions> = {}) =>
	runNode('enqueueTask', parameters, { credentials: admin, typeVersion: 1.1, ...options });

/** The bodies of the enqueue requests the node sent since the last call. */
function sentEnqueues(): IDataObject[] {
	return proxy
		.take()
		.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/tasks'))
		.flatMap((r) => (r.path === '/v1/tasks/bulk' ? (r.body.tasks as IDataObject[]) : [r.body as IDataObject]));
}

const debounce = (settings: IDataObject) => ({ debounce: { settings: { seconds: 60, mode: 'replace', maxWaitSeconds: 0, ...settings } } });

describe('in the editor', () => {
	/** The parameters n8n completes for a node once an option is added (its default put in). */
	function completed(description: INodeTypeDescription, typeVersion: number, parameters: INodeParameters) {
		const node: INode = { id: 'n1', name: 'Node', type: description.name, typeVersion, position: [0, 0], parameters };
		return NodeHelpers.getNodeParameters(description.properties, parameters, true, false, node, description)!;
	}

	/** The default the editor puts in when `option` is added to the collection `collection`. */
	function addedDefault(description: INodeTypeDescription, collection: string, option: string) {
		const options = description.properties.filter((p) => p.name === collection).flatMap((p) => (p.options ?? []) as INodeProperties[]);
		return options.find((o) => o.name === option)!.default;
	}

	it('adding Debounce or Key Rate Limit shows their fields at once, at their defaults', () => {
		const enqueueDescription = new EnqueueTask().description;
		const debounce = addedDefault(enqueueDescription, 'options', 'debounce');
		const enqueueTask = completed(enqueueDescription, 1.1, { resource: 'task', operation: 'enqueue', options: { debounce } });
		expect((enqueueTask.options as IDataObject).debounce).toEqual({ settings: { key: '', seconds: 5, mode: 'replace', maxWaitSeconds: 0 } });

		const triggerDescription = new TaskTrigger().description;
		const keyRateLimit = addedDefault(triggerDescription, 'queueSettings', 'keyRateLimit');
		const trigger = completed(triggerDescription, 1, { queueSettings: { keyRateLimit } });
		expect(trigger.queueSettings).toEqual({ keyRateLimit: { limit: { max: 1, periodSeconds: 1 } } });
	});
});

describe('Enqueue Task: Concurrency Key', () => {
	it('sends neither field without the options', async () => {
		const [task] = jsonOf(await run(enqueue({}), { items: [{ json: { text: 'hi' } }] }));
		expect(sentEnqueues()).toEqual([{ queue: 'chats', name: 'reply', payload: { text: 'hi' } }]);
		expect(task).toMatchObject({ concurrencyKey: null, created: true });
	});

	it('stops on an item whose Concurrency Key comes out empty, sending nothing', async () => {
		for (const options of [{ concurrencyKey: '={{ $json.missing }}' }, { concurrencyKey: '={{ $json.blank }}' }]) {
			const failed = await run(enqueue(options), { items: [{ json: { text: 'hi', blank: '  ' } }] });
			expect(failed.error?.name).toBe('NodeOperationError');
			expect(failed.error!.message).toBe('Concurrency Key is empty');
			expect(sentEnqueues()).toEqual([]);
		}
	});

	it('resolves the key per item, one request per item and in bulk (a numeric id as text)', async () => {
		const items = [17, 'c-2', 17].map((customerId, n) => ({ json: { customerId, n } }));
		for (const bulk of [false, true]) {
			const tasks = jsonOf(await run(enqueue({ concurrencyKey: '={{ $json.customerId }}', bulk }), { items }));
			expect(sentEnqueues().map((body) => body.concurrencyKey)).toEqual(['17', 'c-2', '17']);
			expect(tasks.map((t) => t.concurrencyKey)).toEqual(['17', 'c-2', '17']);
			const stored = await engine.api<IDataObject>('GET', `/v1/tasks/${String(tasks[1]!.id)}`);
			expect(stored.body.concurrencyKey).toBe('c-2');
		}
	});

	it('counts 200 characters as the engine does: 200 emoji are a key, 201 characters are not', async () => {
		const emoji = '🙂'.repeat(200);
		const [task] = jsonOf(await run(enqueue({ concurrencyKey: emoji })));
		expect(task!.concurrencyKey).toBe(emoji);
		proxy.take();

		const items = [{ json: { key: 'ok' } }, { json: { key: 'k'.repeat(201) } }];
		const failed = await run(enqueue({ concurrencyKey: '={{ $json.key }}', bulk: true }), { items });
		expect(failed.error?.name).toBe('NodeOperationError');
		expect(failed.error!.message).toBe('Concurrency Key is longer than 200 characters (201)');
		expect(failed.error!.context!.itemIndex).toBe(1);
		// Checked before the request: nothing was sent for the run.
		expect(sentEnqueues()).toEqual([]);
	});
});

describe('Enqueue Task: Debounce', () => {
	it('replace: the first enqueue opens the group (201), the next ones join it (200) with their payload', async () => {
		const items = ['hello', 'are you there?', 'ok, call me'].map((text) => ({ json: { userId: 'u-1', text } }));
		const result = await run(enqueue(debounce({ key: '={{ $json.userId }}' })), { items });
		const tasks = jsonOf(result);

		expect(sentEnqueues()).toEqual(
			items.map(({ json }) => ({ queue: 'chats', name: 'reply', payload: json, debounce: { key: 'u-1', seconds: 60, mode: 'replace' } })),
		);
		expect(tasks.map((t) => [t.created, t.debounced])).toEqual([
			[true, false],
			[false, true],
			[false, true],
		]);
		expect(new Set(tasks.map((t) => t.id)).size).toBe(1);
		expect(result.outputs[0]!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(tasks[2]!.payload).toEqual(items[2]!.json);
		const stored = await engine.api<IDataObject>('GET', `/v1/tasks/${String(tasks[0]!.id)}`);
		expect(stored.body).toMatchObject({ state: 'scheduled', payload: items[2]!.json });
	});

	it('collect: the payloads of a burst become one task with { items } in arrival order; other keys get their own', async () => {
		const texts = ['a', 'b', 'c', 'd', 'e'];
		const items = [...texts.map((text) => ({ json: { userId: 'u-2', text } })), { json: { userId: 'u-3', text: 'x' } }];
		const before = Date.now();
		const tasks = jsonOf(await run(enqueue(debounce({ key: '={{ $json.userId }}', seconds: 30, mode: 'collect', maxWaitSeconds: 120 })), { items }));

		expect(sentEnqueues().map((body) => body.debounce)).toEqual([
			...texts.map(() => ({ key: 'u-2', seconds: 30, mode: 'collect', maxWaitSeconds: 120 })),
			{ key: 'u-3', seconds: 30, mode: 'collect', maxWaitSeconds: 120 },
		]);
		expect(tasks.map((t) => t.debounced)).toEqual([false, true, true, true, true, false]);
		expect(new Set(tasks.slice(0, 5).map((t) => t.id)).size).toBe(1);
		expect(tasks[5]!.id).not.toBe(tasks[0]!.id);
		expect(tasks[0]!.payload).toEqual({ items: [items[0]!.json] });
		expect(tasks[4]!.payload).toEqual({ items: texts.map((text) => ({ userId: 'u-2', text })) });
		expect(tasks[5]!.payload).toEqual({ items: [{ userId: 'u-3', text: 'x' }] });
		// Each join moves the due time to 30 s after it, never past 120 s after the first enqueue.
		const dueAt = Date.parse(String(tasks[4]!.dueAt));
		expect(dueAt).toBeGreaterThanOrEqual(before + 29_000);
		expect(dueAt).toBeLessThanOrEqual(Date.now() + 121_000);
	});

	it('in bulk, each item says whether it joined', async () => {
		const items = [1, 2, 3].map((n) => ({ json: { userId: 'u-bulk', n } }));
		const tasks = jsonOf(await run(enqueue({ bulk: true, ...debounce({ key: '={{ $json.userId }}', mode: 'collect' }) }), { items }));
		expect(sentEnqueues().map((body) => body.debounce)).toEqual(items.map(() => ({ key: 'u-bulk', seconds: 60, mode: 'collect' })));
		expect(tasks.map((t) => t.debounced)).toEqual([false, true, true]);
		const stored = await engine.api<IDataObject>('GET', `/v1/tasks/${String(tasks[0]!.id)}`);
		expect(stored.body.payload).toEqual({ items: items.map((item) => item.json) });
	});

	it.each([
		['an empty key', { key: '={{ $json.nobody }}' }, 'Debounce Key is empty'],
		['a key over 200 characters', { key: 'k'.repeat(201) }, 'Debounce Key is longer than 200 characters (201)'],
		['a wait of 0', { key: 'u', seconds: 0 }, 'Debounce Wait (Seconds) must be more than 0 and at most 86400'],
		['a negative wait', { key: 'u', seconds: -3 }, 'Debounce Wait (Seconds) must be more than 0 and at most 86400'],
		['a wait over a day', { key: 'u', seconds: 86401 }, 'Debounce Wait (Seconds) must be more than 0 and at most 86400'],
		['a max wait shorter than the wait', { key: 'u', seconds: 5, maxWaitSeconds: 3 }, 'Debounce Max Wait (Seconds) must be at least Wait (Seconds) (5) and at most 86400, or 0 for no limit'],
	])('rejects %s before calling the engine, naming the parameter', async (_, settings, message) => {
		const failed = await run(enqueue(debounce(settings)));
		expect(failed.error?.name).toBe('NodeOperationError');
		expect(failed.error!.message).toBe(message);
		expect(failed.error!.context!.itemIndex).toBe(0);
		expect(sentEnqueues()).toEqual([]);
	});

	it('rejects Debounce with an Idempotency Key, which the engine refuses too', async () => {
		const failed = await run(enqueue({ ...debounce({ key: 'u' }), idempotencyKey: 'msg-1' }));
		expect(failed.error?.name).toBe('NodeOperationError');
		expect(failed.error!.message).toBe('Debounce cannot be combined with an Idempotency Key');
		expect(sentEnqueues()).toEqual([]);
	});

	it('rejects Debounce with a delay or a date: the debounce decides when the task runs', async () => {
		for (const when of [{ when: 'afterDelay', delay: 1, delayUnit: 'minutes' }, { when: 'atDateTime', runAt: '2030-01-01T00:00:00Z' }]) {
			const failed = await run(enqueue(debounce({ key: 'u' }), when));
			expect(failed.error?.name).toBe('NodeOperationError');
			expect(failed.error!.message).toBe('Debounce works only with Run "Now"');
		}
		expect(sentEnqueues()).toEqual([]);
	});
});

describe('Task Trigger: Queue Settings', () => {
	let server: Awaited<ReturnType<typeof startWebhookServer>>;
	let trigger: TriggerHarness | undefined;

	beforeAll(async () => {
		server = await startWebhookServer();
	});
	afterAll(async () => {
		await server?.close();
	});
	afterEach(async () => {
		if (trigger?.staticData.production) await trigger.hook('delete', 'production');
		trigger = undefined;
	});

	function newTrigger(queue: string, parameters: INodeParameters, credentials = admin) {
		trigger = triggerHarness({ queue: byName(queue), events: ['task'], createQueueIfMissing: true, ...parameters }, credentials, server.urls);
		return trigger;
	}

	const queueRequests = () =>
		proxy
			.take()
			.filter((r) => /^\/v1\/queues(\/[^/]+)?$/.test(r.path))
			.map((r) => ({ method: r.method, path: r.path, body: r.body, status: r.status }));

	const perCustomer = { keyConcurrency: 1, keyRateLimit: { limit: { max: 2, periodSeconds: 1 } } };

	it('without Queue Settings creates the queue with its name only, as before', async () => {
		expect(await newTrigger('plain-worker', {}).hook('create', 'production')).toBe(true);
		expect(queueRequests()).toEqual([{ method: 'POST', path: '/v1/queues', body: { name: 'plain-worker' }, status: 201 }]);
		expect((await engine.api('GET', '/v1/queues/plain-worker')).body).toMatchObject({ keyConcurrency: null, keyRateLimit: null });
	});

	it('creates a missing queue with its settings', async () => {
		expect(await newTrigger('per-customer', { queueSettings: perCustomer }).hook('create', 'production')).toBe(true);
		expect(queueRequests()).toEqual([
			{ method: 'GET', path: '/v1/queues/per-customer', body: undefined, status: 404 },
			{ method: 'POST', path: '/v1/queues', body: { name: 'per-customer', keyConcurrency: 1, keyRateLimit: { max: 2, periodSeconds: 1 } }, status: 201 },
		]);
		expect((await engine.api('GET', '/v1/queues/per-customer')).body).toMatchObject({ keyConcurrency: 1, keyRateLimit: { max: 2, periodSeconds: 1 } });
		expect((await engine.api<{ items: unknown[] }>('GET', '/v1/queues/per-customer/handlers')).body.items).toHaveLength(1);
	});

	it('changes only the settings that differ on an existing queue, and nothing when they match', async () => {
		const created = await engine.api('POST', '/v1/queues', { name: 'existing-worker', concurrency: 7, keyConcurrency: 3, keyRateLimit: { max: 2, periodSeconds: 1 } });
		expect(created.status).toBe(201);
		expect(await newTrigger('existing-worker', { queueSettings: perCustomer }).hook('create', 'production')).toBe(true);
		expect(queueRequests()).toEqual([
			{ method: 'GET', path: '/v1/queues/existing-worker', body: undefined, status: 200 },
			{ method: 'PUT', path: '/v1/queues/existing-worker', body: { keyConcurrency: 1 }, status: 200 },
		]);
		expect((await engine.api('GET', '/v1/queues/existing-worker')).body).toMatchObject({ concurrency: 7, keyConcurrency: 1, keyRateLimit: { max: 2, periodSeconds: 1 } });

		// Activated again (n8n restarted, say): the queue has the settings, so only the GET.
		expect(await newTrigger('existing-worker', { queueSettings: perCustomer }).hook('create', 'production')).toBe(true);
		expect(queueRequests()).toEqual([{ method: 'GET', path: '/v1/queues/existing-worker', body: undefined, status: 200 }]);
	});

	it('works with a write key when the queue already has the settings', async () => {
		expect((await engine.api('POST', '/v1/queues', { name: 'prepared-worker', keyConcurrency: 1, keyRateLimit: { max: 2, periodSeconds: 1 } })).status).toBe(201);
		expect(await newTrigger('prepared-worker', { queueSettings: perCustomer }, writer).hook('create', 'production')).toBe(true);
		expect(queueRequests().map((r) => r.method)).toEqual(['GET']);
	});

	it('says that an admin key is needed when a write key would have to create or change the queue, and changes nothing', async () => {
		const missing = newTrigger('write-key-missing', { queueSettings: perCustomer }, writer);
		await expect(missing.hook('create', 'production')).rejects.toMatchObject({
			name: 'NodeOperationError',
			message: 'Creating queue "write-key-missing" with Queue Settings needs an API key with scope "admin"',
			description: expect.stringContaining('remove them from Queue Settings'),
		});
		expect((await engine.api('GET', '/v1/queues/write-key-missing')).status).toBe(404);

		expect((await engine.api('POST', '/v1/queues', { name: 'write-key-other', keyConcurrency: 3 })).status).toBe(201);
		proxy.take();
		const other = newTrigger('write-key-other', { queueSettings: { keyConcurrency: 1 } }, writer);
		await expect(other.hook('create', 'production')).rejects.toMatchObject({
			name: 'NodeOperationError',
			message: 'Changing the settings of queue "write-key-other" (keyConcurrency 3 → 1) needs an API key with scope "admin"',
			description: expect.stringContaining('Engine: '),
		});
		expect(queueRequests().map((r) => [r.method, r.status])).toEqual([
			['GET', 200],
			['PUT', 403],
		]);
		expect((await engine.api('GET', '/v1/queues/write-key-other')).body.keyConcurrency).toBe(3);
		expect((await engine.api<{ items: unknown[] }>('GET', '/v1/queues/write-key-other/handlers')).body.items).toEqual([]);
	});

	it('rejects a setting that is not a whole number of at least 1', async () => {
		await expect(newTrigger('bad-settings', { queueSettings: { keyConcurrency: 0 } }).hook('create', 'production')).rejects.toMatchObject({
			name: 'NodeOperationError',
			message: 'Queue Settings → Key Concurrency must be a whole number of at least 1',
		});
		expect(queueRequests()).toEqual([]);
	});
});

describe('Queue Health: throttled keys', () => {
	it('passes on the keys a handler throttled with 429 + Retry-After, with their "until"', async () => {
		// The handler's API allows no more for this account: 429, try again in 2 minutes.
		const limited = await startReceiver(() => ({ status: 429, headers: { 'retry-after': '120' }, body: { error: 'rate limited' } }));
		try {
			expect((await engine.api('POST', '/v1/queues', { name: 'throttled-api' })).status).toBe(201);
			const task = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: 'throttled-api', name: 'call', url: limited.url, concurrencyKey: 'acct-1' });
			expect(task.status).toBe(201);
			await eventually(() => limited.requests.length > 0, 20_000, 'the delivery');

			const health = await eventually(async () => {
				const [queue] = jsonOf(
					await runNode('queueHealth', { resource: 'queue', operation: 'getHealth', scope: 'one', queue: byName('throttled-api'), thresholds: {}, options: {} }, { credentials: admin }),
				);
				return (queue!.throttled as IDataObject[] | undefined)?.length ? queue : undefined;
			}, 20_000, 'the key to show as throttled');
			expect(health!.throttled).toEqual([{ key: 'acct-1', until: expect.any(String) }]);
			const until = Date.parse(String((health!.throttled as IDataObject[])[0]!.until));
			expect(until).toBeGreaterThan(Date.now() + 100_000);
			expect(until).toBeLessThan(Date.now() + 125_000);
		} finally {
			await limited.close();
		}
	});
});
