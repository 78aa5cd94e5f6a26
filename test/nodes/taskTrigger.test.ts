// Task Trigger: its webhook lifecycle against a real engine, and its webhook() behind a stand-in of
// n8n's webhook server, receiving real signed deliveries from the engine and crafted ones signed
// with the independent `standardwebhooks` package.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { Webhook } from 'standardwebhooks';
import { TaskTrigger } from '../../nodes/TaskTrigger/TaskTrigger.node';
import { confirmationHeader } from '../../nodes/TaskTrigger/confirmation';
import { verifySignature } from '../../nodes/TaskTrigger/signature';
import { eventually } from '../helpers/engine.js';
import { triggerHarness, type TriggerHarness } from './harness.js';
import { byName, startNodeTestEngine, type NodeTestEngine } from './nodeEngine.js';
import { confirmVectors } from '../vectors/taskConfirm.js';
import { startWebhookServer } from './webhookServer.js';

interface Vector {
	name: string;
	secret: string | string[];
	id: string;
	timestamp: number;
	body: string;
	signature: string;
}
const { vectors } = JSON.parse(readFileSync(new URL('../vectors/standard-webhooks.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const secretsOf = (v: Vector) => (Array.isArray(v.secret) ? v.secret : [v.secret]);
const headersOf = (v: Vector, signature = v.signature) => ({ id: v.id, timestamp: String(v.timestamp), signature });


describe('confirmation marker (shared vectors)', () => {
	it.each(confirmVectors.map((v) => [v.name, v] as const))('computes %s as the engine expects it', (_name, v) => {
		expect(confirmationHeader(v.secret, v.id, v.attempt, String(v.timestamp))).toBe(v.header);
	});

	it('gives no marker without a usable attempt number or secret', () => {
		const v = confirmVectors[0]!;
		expect(confirmationHeader(v.secret, v.id, String(v.attempt), String(v.timestamp))).toBeUndefined();
		expect(confirmationHeader(v.secret, v.id, undefined, String(v.timestamp))).toBeUndefined();
		expect(confirmationHeader('not-a-whsec-secret', v.id, v.attempt, String(v.timestamp))).toBeUndefined();
	});
});

describe('signature verification (shared Standard Webhooks vectors)', () => {
	it.each(vectors.map((v) => [v.name, v] as const))('accepts %s with each of its secrets alone', (_name, v) => {
		for (const secret of secretsOf(v)) {
			expect(verifySignature([secret], headersOf(v), Buffer.from(v.body, 'utf8'), v.timestamp)).toEqual({ ok: true, secret });
		}
	});

	it('rejects a changed body, a wrong secret, an unusable secret and no secret', () => {
		const v = vectors.find((vector) => vector.name === 'task-delivery')!;
		const [secret] = secretsOf(v);
		const otherSecret = secretsOf(vectors.find((vector) => vector.name === 'unicode-body')!)[0]!;
		const bad = { ok: false, reason: 'bad_signature' };
		expect(verifySignature([secret!], headersOf(v), Buffer.from(`${v.body} `, 'utf8'), v.timestamp)).toEqual(bad);
		expect(verifySignature([otherSecret], headersOf(v), Buffer.from(v.body, 'utf8'), v.timestamp)).toEqual(bad);
		expect(verifySignature(['not-a-whsec-secret'], headersOf(v), Buffer.from(v.body, 'utf8'), v.timestamp)).toEqual(bad);
		expect(verifySignature([], headersOf(v), Buffer.from(v.body, 'utf8'), v.timestamp)).toEqual(bad);
	});

	it('allows 5 minutes of clock difference either way, not more', () => {
		const v = vectors.find((vector) => vector.name === 'task-delivery')!;
		const check = (now: number) => verifySignature(secretsOf(v), headersOf(v), Buffer.from(v.body, 'utf8'), now);
		expect(check(v.timestamp + 300)).toMatchObject({ ok: true });
		expect(check(v.timestamp - 300)).toMatchObject({ ok: true });
		expect(check(v.timestamp + 301)).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
		expect(check(v.timestamp - 301)).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
	});

	it('fails closed on missing, repeated or malformed headers and a missing raw body', () => {
		const v = vectors.find((vector) => vector.name === 'task-delivery')!;
		const body = Buffer.from(v.body, 'utf8');
		const malformed = { ok: false, reason: 'malformed' };
		for (const headers of [
			{ ...headersOf(v), id: undefined },
			{ ...headersOf(v), timestamp: 'yesterday' },
			{ ...headersOf(v), signature: [v.signature, v.signature] },
			{ ...headersOf(v), signature: 'v1' },
		]) {
			expect(verifySignature(secretsOf(v), headers, body, v.timestamp)).toEqual(malformed);
		}
		expect(verifySignature(secretsOf(v), headersOf(v), undefined, v.timestamp)).toEqual(malformed);
	});
});

// Started while the file is collected, so tests of engine features still being built can be
// skipped by what the engine's live OpenAPI document lists.
const engine: NodeTestEngine = await startNodeTestEngine();

describe('Task Trigger', () => {
	let server: Awaited<ReturnType<typeof startWebhookServer>>;
	let failNext = 0;

	beforeAll(async () => {
		// The stand-in workflow fails while `failNext` > 0, as a workflow whose node throws would.
		server = await startWebhookServer({ failWorkflow: () => failNext-- > 0 });
	});

	afterAll(async () => {
		await server?.close();
		await engine.stop();
	});

	let trigger: TriggerHarness | undefined;
	afterEach(async () => {
		// Deactivate whatever a test left registered, so no handler outlives its test.
		for (const mode of ['production', 'test'] as const) {
			if (trigger?.staticData[mode]) await trigger.hook('delete', mode);
		}
		trigger = undefined;
		failNext = 0;
	});

	function newTrigger(parameters: INodeParameters) {
		trigger = triggerHarness({ events: ['task'], createQueueIfMissing: true, ...parameters }, engine.credentials, server.urls);
		server.attach(trigger);
		return trigger;
	}

	async function handlersOf(queue: string) {
		const { status, body } = await engine.api<{ items: IDataObject[] }>('GET', `/v1/queues/${queue}/handlers`);
		expect(status).toBe(200);
		return body.items;
	}

	it('is a webhook trigger that answers when the workflow finishes', () => {
		const { description } = new TaskTrigger();
		expect(description.inputs).toEqual([]);
		expect(description.webhooks).toEqual([expect.objectContaining({ name: 'default', httpMethod: 'POST', responseMode: 'lastNode' })]);
		expect(description.usableAsTool).toBeUndefined();
	});

	describe('lifecycle', () => {
		it('registers its production URL as a handler on activation and removes it on deactivation', async () => {
			const t = newTrigger({ queue: byName('orders') });
			expect(await t.hook('checkExists', 'production')).toBe(false);
			expect(await t.hook('create', 'production')).toBe(true);

			const [handler] = await handlersOf('orders');
			// confirm: the engine completes its tasks only with the trigger's marker on a 2xx.
			expect(handler).toMatchObject({ url: `${server.webhookBaseUrl}/${t.node.webhookId}/webhook`, mode: 'production', events: ['task'], confirm: true });
			expect(t.staticData.production).toMatchObject({ handlerId: handler!.id, secret: handler!.secret, queue: 'orders' });
			expect(await t.hook('checkExists', 'production')).toBe(true);

			expect(await t.hook('delete', 'production')).toBe(true);
			expect(await handlersOf('orders')).toEqual([]);
			expect(t.staticData.production).toBeUndefined();
			expect(await t.hook('checkExists', 'production')).toBe(false);
		});

		it('creates the queue if asked, and reports a missing queue otherwise', async () => {
			expect((await engine.api('GET', '/v1/queues/fresh-queue')).status).toBe(404);
			const t = newTrigger({ queue: byName('fresh-queue'), createQueueIfMissing: true });
			expect(await t.hook('create', 'production')).toBe(true);
			expect((await engine.api('GET', '/v1/queues/fresh-queue')).status).toBe(200);
			// Activating again is harmless: the queue exists and the same URL returns the same handler.
			expect(await t.hook('create', 'production')).toBe(true);
			expect(await handlersOf('fresh-queue')).toHaveLength(1);

			const strict = triggerHarness({ events: ['task'], createQueueIfMissing: false, queue: byName('absent-queue') }, engine.credentials, server.urls);
			await expect(strict.hook('create', 'production')).rejects.toMatchObject({ name: 'NodeApiError', httpCode: '404' });
		});

		it('registers a separate test handler while listening, leaving the production one alone', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'production');
			expect(await t.hook('checkExists', 'test')).toBe(false);
			await t.hook('create', 'test');

			const handlers = await handlersOf('orders');
			expect(handlers.map((h) => [h.mode, h.url]).sort()).toEqual([
				['production', `${server.webhookBaseUrl}/${t.node.webhookId}/webhook`],
				['test', `${server.webhookTestBaseUrl}/${t.node.webhookId}/webhook`],
			]);
			expect(t.staticData.test).toMatchObject({ handlerId: handlers.find((h) => h.mode === 'test')!.id });

			await t.hook('delete', 'test');
			expect((await handlersOf('orders')).map((h) => h.mode)).toEqual(['production']);
			expect(await t.hook('checkExists', 'production')).toBe(true);
		});

		it('removes its test handler when a test session ends without the node data, leaving production alone', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'production');
			await t.hook('create', 'test');
			expect((await handlersOf('orders')).map((h) => h.mode).sort()).toEqual(['production', 'test']);
			// n8n ends a test session with the workflow rebuilt from its cache: this node, none of its data.
			const rebuilt = triggerHarness({ queue: byName('orders'), events: ['task'], createQueueIfMissing: true }, engine.credentials, server.urls);
			expect(rebuilt.staticData.test).toBeUndefined();
			expect(await rebuilt.hook('delete', 'test')).toBe(true);
			expect((await handlersOf('orders')).map((h) => [h.mode, h.url])).toEqual([['production', `${server.webhookBaseUrl}/${t.node.webhookId}/webhook`]]);
			// Deactivating removes the production handler the same way, data or not.
			expect(await rebuilt.hook('delete', 'production')).toBe(true);
			expect(await handlersOf('orders')).toEqual([]);
			delete t.staticData.production;
			delete t.staticData.test;
		});

		it('removes the handler of the queue it was registered for, after the queue was changed', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'test');
			const moved = triggerHarness({ queue: byName('other-queue'), events: ['task'], createQueueIfMissing: true }, engine.credentials, server.urls);
			Object.assign(moved.staticData, t.staticData);
			expect(await moved.hook('delete', 'test')).toBe(true);
			expect(await handlersOf('orders')).toEqual([]);
			expect(moved.staticData.test).toBeUndefined();
			delete t.staticData.test;
		});

		it('notices a handler removed in the engine, and one registered for other events', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'production');
			const [handler] = await handlersOf('orders');
			expect((await engine.api('DELETE', `/v1/queues/orders/handlers/${String(handler!.id)}`)).status).toBe(204);
			expect(await t.hook('checkExists', 'production')).toBe(false);
			expect(t.staticData.production).toBeUndefined();

			await t.hook('create', 'production');
			const changed = triggerHarness({ queue: byName('orders'), events: ['task', 'batch'], createQueueIfMissing: true }, engine.credentials, server.urls);
			Object.assign(changed.staticData, t.staticData);
			expect(await changed.hook('checkExists', 'production')).toBe(false);
			expect(await handlersOf('orders')).toEqual([]);
			delete t.staticData.production;
		});

		it('replaces a handler registered without confirmation (by an older version of the node)', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'production');
			const [handler] = await handlersOf('orders');
			// The same URL registered again without `confirm` turns it off, as an older node would have left it.
			const old = await engine.api<IDataObject>('POST', '/v1/queues/orders/handlers', { url: handler!.url, events: ['task'] });
			expect(old.body).toMatchObject({ id: handler!.id, confirm: false });
			expect(await t.hook('checkExists', 'production')).toBe(false);
			expect(await handlersOf('orders')).toEqual([]);
			await t.hook('create', 'production');
			expect(await handlersOf('orders')).toEqual([expect.objectContaining({ confirm: true })]);
		});
	});

	describe('deliveries', () => {
		it('runs the workflow for a signed task: payload fields on top, metadata under task', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'production');
			const enqueued = await engine.api<IDataObject>('POST', '/v1/tasks', {
				queue: 'orders',
				name: 'ship-order',
				payload: { orderId: 'o-1', task: 'shadowed by the metadata', items: [1, 2] },
			});
			expect(enqueued.status).toBe(201);

			const call = await eventually(() => server.calls.find((c) => c.output?.[0]?.task && (c.output[0].task as IDataObject).id === enqueued.body.id), 15_000, 'delivery');
			expect(call.status).toBe(200);
			expect(call.output).toEqual([
				{
					orderId: 'o-1',
					items: [1, 2],
					task: {
						id: enqueued.body.id,
						attempt: 1,
						maxAttempts: 4,
						queue: 'orders',
						name: 'ship-order',
						scheduledFor: enqueued.body.dueAt,
						createdAt: enqueued.body.createdAt,
					},
				},
			]);
			// lastNode: the first output item went back to the engine, which kept it as the result.
			const done = await eventually(async () => {
				const task = (await engine.api<IDataObject>('GET', `/v1/tasks/${String(enqueued.body.id)}`)).body;
				return task.state === 'completed' && task;
			}, 15_000, 'completion');
			expect((done.result as IDataObject).orderId).toBe('o-1');
			// The answer carried the marker for this task and attempt, so the engine took the 200 as done.
			const secret = (t.staticData.production as IDataObject).secret as string;
			expect(call.responseHeaders?.['x-task-confirm']).toBe(
				confirmationHeader(secret, String(enqueued.body.id), 1, String(call.headers['webhook-timestamp'])),
			);
			expect(done.attempts).toEqual([expect.objectContaining({ number: 1, statusCode: 200, errorClass: null })]);
		});

		it('answers 503 with Retry-After: 1 while it holds no secret yet, and the engine delivers again once it does', async () => {
			const t = newTrigger({ queue: byName('activating') });
			await t.hook('create', 'production');
			// n8n serves the webhook and the engine has the handler, but n8n has not yet saved the
			// node's static data (it does so after every create hook has finished): no secret here.
			const registration = t.staticData.production;
			delete t.staticData.production;
			const enqueued = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: 'activating', name: 'early', payload: { n: 1 } });
			const forTask = () => server.calls.filter((c) => c.headers['webhook-id'] === enqueued.body.id);
			const early = await eventually(() => forTask().find((c) => c.status === 503), 15_000, 'a delivery before the static data is saved');
			expect(early.output).toBeUndefined();
			expect(early.responseHeaders).toMatchObject({ 'retry-after': '1', 'x-task-handler-starting': 'true' });

			t.staticData.production = registration;
			const done = await eventually(async () => {
				const task = (await engine.api<IDataObject>('GET', `/v1/tasks/${String(enqueued.body.id)}`)).body;
				return ['completed', 'failed'].includes(task.state as string) && task;
			}, 15_000, 'completion once the secret is there');
			expect(done.state).toBe('completed');
			const attempts = done.attempts as IDataObject[];
			expect(attempts.at(-1)).toMatchObject({ statusCode: 200, errorClass: null });
			expect(attempts.slice(0, -1).every((a) => a.statusCode === 503)).toBe(true);
			// Retry-After: 1 was honoured (the queue's default backoff would wait a minute).
			expect(Date.parse(attempts.at(-1)!.startedAt as string) - Date.parse(attempts.at(-2)!.startedAt as string)).toBeLessThan(5_000);
			// The workflow ran once: only the last delivery reached it.
			expect(forTask().filter((c) => c.output !== undefined)).toHaveLength(1);
		});

		it('puts a payload that is not an object under payload', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'production');
			const enqueued = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: 'orders', name: 'list', payload: ['a', 'b'] });
			const call = await eventually(() => server.calls.find((c) => (c.output?.[0]?.task as IDataObject | undefined)?.id === enqueued.body.id), 15_000, 'delivery');
			expect(call.output![0]).toMatchObject({ payload: ['a', 'b'], task: { name: 'list' } });
		});

		it('is retried by the engine when the workflow fails, and accepts the retry of the same id', async () => {
			const t = newTrigger({ queue: byName('orders') });
			await t.hook('create', 'production');
			failNext = 1;
			const enqueued = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: 'orders', name: 'flaky', payload: {}, retry: { delaySeconds: 0 } });
			const done = await eventually(async () => {
				const task = (await engine.api<IDataObject>('GET', `/v1/tasks/${String(enqueued.body.id)}`)).body;
				return task.state === 'completed' && task;
			}, 20_000, 'completion after a retry');
			const calls = server.calls.filter((c) => (c.output?.[0]?.task as IDataObject | undefined)?.id === enqueued.body.id);
			expect(calls.map((c) => c.status)).toEqual([500, 200]);
			expect(calls.map((c) => c.headers['webhook-id'])).toEqual([enqueued.body.id, enqueued.body.id]);
			expect(calls[0]!.headers['webhook-signature']).not.toBe(calls[1]!.headers['webhook-signature']);
			expect(calls.map((c) => (c.output![0]!.task as IDataObject).attempt)).toEqual([1, 2]);
			expect(done.attemptCount).toBe(2);
		});

		describe('crafted requests', () => {
			async function post(t: TriggerHarness, body: string, headers: Record<string, string>, mode: 'production' | 'test' = 'production') {
				const base = mode === 'test' ? server.webhookTestBaseUrl : server.webhookBaseUrl;
				const res = await fetch(`${base}/${t.node.webhookId}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
				return { status: res.status, headers: res.headers, body: await res.text(), call: server.calls.at(-1)! };
			}

			function signed(secret: string, id: string, body: string, at = new Date()) {
				return {
					'webhook-id': id,
					'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
					'webhook-signature': new Webhook(secret).sign(id, at, body),
				};
			}

			const body = JSON.stringify({ id: 'tsk_crafted', queue: 'orders', name: 'crafted', payload: { n: 1 }, attempt: 1, maxAttempts: 4, scheduledFor: '2026-03-01T12:00:00.000Z', createdAt: '2026-03-01T11:59:58.123Z' });

			it('answers 401 itself to a wrong signature, an old timestamp or no signature, without running the workflow', async () => {
				const t = newTrigger({ queue: byName('orders') });
				await t.hook('create', 'production');
				const secret = (t.staticData.production as IDataObject).secret as string;

				const wrong = await post(t, body, signed('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'tsk_crafted', body));
				expect(wrong.status).toBe(401);
				expect(JSON.parse(wrong.body)).toEqual({ error: { code: 'invalid_signature', message: 'Delivery rejected: bad_signature' } });
				expect(wrong.call.output).toBeUndefined();

				const old = await post(t, body, signed(secret, 'tsk_crafted', body, new Date(Date.now() - 10 * 60_000)));
				expect(old.status).toBe(401);
				expect(JSON.parse(old.body).error.message).toBe('Delivery rejected: timestamp_out_of_window');
				expect(old.call.output).toBeUndefined();

				const tampered = await post(t, body.replace('"n":1', '"n":2'), signed(secret, 'tsk_crafted', body));
				expect(tampered.status).toBe(401);

				const unsigned = await post(t, body, {});
				expect(unsigned.status).toBe(401);
				expect(unsigned.call.output).toBeUndefined();
				// None of these answers carries a confirmation.
				for (const answer of [wrong, old, tampered, unsigned]) expect(answer.headers.get('x-task-confirm')).toBeNull();
			});

			it('answers 503 with Retry-After: 1 and runs nothing while it holds no secret for that URL', async () => {
				// Never activated (or activated, with the static data not yet saved): no production secret.
				const t = newTrigger({ queue: byName('orders') });
				const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
				const early = await post(t, body, signed(secret, 'tsk_crafted', body));
				expect(early.status).toBe(503);
				expect(early.headers.get('retry-after')).toBe('1');
				expect(early.headers.get('x-task-handler-starting')).toBe('true');
				expect(early.headers.get('x-task-confirm')).toBeNull();
				expect(JSON.parse(early.body)).toEqual({ error: { code: 'not_ready', message: 'The Task Trigger is still being activated: retry shortly' } });
				expect(early.call.output).toBeUndefined();

				// A test handler's secret does not make the production URL ready, nor the other way round.
				await t.hook('create', 'test');
				expect((await post(t, body, signed((t.staticData.test as IDataObject).secret as string, 'tsk_crafted', body))).status).toBe(503);
				await t.hook('delete', 'test');
				await t.hook('create', 'production');
				expect((await post(t, body, signed(secret, 'tsk_crafted', body), 'test')).status).toBe(503);
				// With the secret present, a wrong signature is a 401 again.
				expect((await post(t, body, signed(secret, 'tsk_crafted', body))).status).toBe(401);
			});

			it('marks the answer with the confirmation of this task and attempt', async () => {
				const t = newTrigger({ queue: byName('orders') });
				await t.hook('create', 'production');
				const secret = (t.staticData.production as IDataObject).secret as string;
				const headers = signed(secret, 'tsk_crafted', body);
				const res = await post(t, body, headers);
				expect(res.status).toBe(200);
				expect(res.headers.get('x-task-confirm')).toBe(confirmationHeader(secret, 'tsk_crafted', 1, headers['webhook-timestamp']));
				// The failed execution's 500 is marked too; the engine retries it whatever the marker says.
				failNext = 1;
				const failed = await post(t, body, signed(secret, 'tsk_crafted', body));
				expect(failed.status).toBe(500);
			});

			it('accepts a retry of an id it has already seen, with a fresh timestamp and signature', async () => {
				const t = newTrigger({ queue: byName('orders') });
				await t.hook('create', 'production');
				const secret = (t.staticData.production as IDataObject).secret as string;
				const first = await post(t, body, signed(secret, 'tsk_crafted', body, new Date(Date.now() - 2000)));
				const retry = await post(t, body, signed(secret, 'tsk_crafted', body));
				expect([first.status, retry.status]).toEqual([200, 200]);
				expect(retry.call.output).toEqual([{ n: 1, task: expect.objectContaining({ id: 'tsk_crafted', attempt: 1 }) }]);
			});

			it('verifies test-URL deliveries with the test handler secret', async () => {
				const t = newTrigger({ queue: byName('orders') });
				await t.hook('create', 'test');
				const secret = (t.staticData.test as IDataObject).secret as string;
				const res = await post(t, body, signed(secret, 'tsk_crafted', body), 'test');
				expect(res.status).toBe(200);
				expect(res.call.mode).toBe('test');
			});

			it('outputs the batch of a batch event', async () => {
				const t = newTrigger({ queue: byName('orders'), events: ['batch'] });
				await t.hook('create', 'production');
				const secret = (t.staticData.production as IDataObject).secret as string;
				const batch = { id: 'b-1', state: 'completed', totalItems: 4, totalChunks: 2, items: { processed: 4, failed: 0 } };
				const event = JSON.stringify({ id: 'tsk_event', queue: 'orders', name: 'batch.finished', payload: { batch }, attempt: 1, maxAttempts: 4, scheduledFor: '2026-03-01T12:00:00.000Z', createdAt: '2026-03-01T12:00:00.000Z' });
				const res = await post(t, event, signed(secret, 'tsk_event', event));
				expect(res.status).toBe(200);
				expect(res.call.output).toEqual([batch]);
			});
		});

		it('receives the batch event of a real batch when it listens for batch events', async () => {
			const t = newTrigger({ queue: byName('batched'), events: ['task', 'batch'] });
			await t.hook('create', 'production');
			const created = await engine.api<IDataObject>('POST', '/v1/batches', { queue: 'batched', name: 'rows', items: [1, 2, 3], chunkSize: 2 });
			expect(created.status).toBe(202);
			const event = await eventually(() => server.calls.find((c) => c.output?.[0]?.id === created.body.id && c.output[0].state !== undefined), 20_000, 'batch event');
			expect(event.output![0]).toMatchObject({ id: created.body.id, state: 'completed', totalItems: 3, totalChunks: 2 });
			const chunks = server.calls.filter((c) => ((c.output?.[0]?.task as IDataObject | undefined)?.batch as IDataObject | undefined)?.id === created.body.id);
			expect(chunks).toHaveLength(2);
			expect(chunks[0]!.output![0]).toMatchObject({ items: expect.any(Array), task: { name: 'rows', batch: { id: created.body.id, totalChunks: 2 } } });
		});
	});
});
