// The nodes with scoped API keys (README, "Security"): the Task Trigger works with a `write` key, the
// credential test passes with any valid key (a `read` key included: Queue Health needs no more),
// and a `read` key cannot register a handler.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject } from 'n8n-workflow';
import { BackgroundTasksApi } from '../../credentials/BackgroundTasksApi.credentials';
import { eventually, TEST_API_KEY } from '../helpers/engine.js';
import { jsonOf, runNode, triggerHarness, type TriggerHarness } from './harness.js';
import { byName, startNodeTestEngine, type NodeTestEngine } from './nodeEngine.js';
import { startWebhookServer } from './webhookServer.js';

const WRITE_KEY = 'write-key-for-node-tests-0001';
const READ_KEY = 'read-key-for-node-tests-00001';

let engine: NodeTestEngine;
let server: Awaited<ReturnType<typeof startWebhookServer>>;
let trigger: TriggerHarness | undefined;

beforeAll(async () => {
	engine = await startNodeTestEngine({ API_KEYS: `${TEST_API_KEY},${WRITE_KEY}:write,${READ_KEY}:read` });
	server = await startWebhookServer();
});
afterEach(async () => {
	if (trigger?.staticData.production) await trigger.hook('delete', 'production');
	trigger = undefined;
});
afterAll(async () => {
	await server?.close();
	await engine?.stop();
});

const as = (apiKey: string) => ({ ...engine.credentials, apiKey });

describe('credential test request', () => {
	/** What n8n does when a credential is saved: the test request with the credential's auth header. */
	async function credentialTest(apiKey: string): Promise<number> {
		const { request } = new BackgroundTasksApi().test;
		const url = new URL(String(request.url), engine.baseUrl);
		for (const [k, v] of Object.entries(request.qs ?? {})) url.searchParams.set(k, String(v));
		const res = await fetch(url, { method: request.method, headers: { authorization: `Bearer ${apiKey}` } });
		await res.arrayBuffer();
		return res.status;
	}

	it('passes with a key of any scope and fails with a wrong one', async () => {
		expect(await credentialTest(TEST_API_KEY)).toBe(200);
		expect(await credentialTest(WRITE_KEY)).toBe(200);
		expect(await credentialTest(READ_KEY)).toBe(200);
		expect(await credentialTest('not-a-key-at-all-000000')).toBe(401);
	});
});

describe('Task Trigger with a write key', () => {
	it('creates the queue, registers, receives a signed task, and deregisters', async () => {
		trigger = triggerHarness({ queue: byName('scoped-orders'), events: ['task'], createQueueIfMissing: true }, as(WRITE_KEY), server.urls);
		server.attach(trigger);
		expect(await trigger.hook('checkExists', 'production')).toBe(false);
		expect(await trigger.hook('create', 'production')).toBe(true);
		expect(await trigger.hook('checkExists', 'production')).toBe(true);
		// It holds the handler's secret (a write key sees handler secrets, not the queue's).
		expect((trigger.staticData.production as IDataObject).secret).toMatch(/^whsec_/);
		expect((await engine.api('GET', '/v1/queues/scoped-orders', undefined, { auth: WRITE_KEY })).body.secret).toBeUndefined();

		// Enqueued through the Enqueue Task node, with the same write key.
		const enqueued = jsonOf(
			await runNode(
				'enqueueTask',
				{ resource: 'task', operation: 'enqueue', queue: byName('scoped-orders'), taskName: 'ship', payloadSource: 'inputItem', when: 'now', options: {} },
				{ credentials: as(WRITE_KEY), items: [{ json: { orderId: 'o-7' } }] },
			),
		)[0];
		const done = await eventually(async () => {
			const task = (await engine.api<IDataObject>('GET', `/v1/tasks/${String(enqueued.id)}`, undefined, { auth: READ_KEY })).body;
			return task.state === 'completed' && task;
		}, 20_000, 'the task to complete');
		expect(done.result).toMatchObject({ orderId: 'o-7' });

		expect(await trigger.hook('delete', 'production')).toBe(true);
		expect((await engine.api<{ items: unknown[] }>('GET', '/v1/queues/scoped-orders/handlers')).body.items).toEqual([]);
	});

	it('cannot register with a read key: the engine answers 403', async () => {
		const readOnly = triggerHarness({ queue: byName('scoped-orders'), events: ['task'], createQueueIfMissing: false }, as(READ_KEY), server.urls);
		await expect(readOnly.hook('create', 'production')).rejects.toMatchObject({ name: 'NodeApiError', httpCode: '403' });
	});
});

describe('Queue Health with a read key', () => {
	it('reads the health of a queue', async () => {
		const health = jsonOf(await runNode('queueHealth', { resource: 'queue', operation: 'getHealth', scope: 'one', queue: byName('scoped-orders'), thresholds: {}, options: {} }, { credentials: as(READ_KEY) }));
		expect(health[0]).toMatchObject({ queue: 'scoped-orders' });
	});
});
