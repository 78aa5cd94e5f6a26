// Task Trigger, issue 12: Finish "With a Complete/Fail Step" (a task is answered 202 at once, with
// the confirmation marker, and the workflow still runs) and Receive "Dead Letters" (the failed task
// with its attempts; the marker then uses the delivery's x-task-attempt). Real engine deliveries
// behind a stand-in of n8n's webhook server, and crafted ones signed with `standardwebhooks`.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeHelpers, type IDataObject, type INode, type INodeParameters } from 'n8n-workflow';
import { Webhook } from 'standardwebhooks';
import { TaskTrigger } from '../../nodes/TaskTrigger/TaskTrigger.node';
import { confirmationHeader } from '../../nodes/TaskTrigger/confirmation';
import { eventually } from '../helpers/engine.js';
import { triggerHarness, type TriggerHarness } from './harness.js';
import { byName, startNodeTestEngine, type NodeTestEngine } from './nodeEngine.js';
import { startWebhookServer } from './webhookServer.js';

const { description } = new TaskTrigger();

describe('Task Trigger form: Finish and Dead Letters', () => {
	const completed = (parameters: INodeParameters) => {
		const node: INode = { id: 'n1', name: 'Task Trigger', type: description.name, typeVersion: 1, position: [0, 0], parameters };
		return NodeHelpers.getNodeParameters(description.properties, parameters, true, false, node, description)!;
	};

	it('keeps saved triggers as they were: Finish defaults to "When the workflow ends", the webhook still waits for the workflow', () => {
		expect(completed({ queue: byName('emails'), events: ['task'] }).finish).toBe('workflowEnd');
		expect(description.version).toBe(1);
		expect(description.webhooks?.[0]).toMatchObject({ responseMode: 'lastNode' });
	});

	it('offers Finish only where tasks are received, and Dead Letters beside Tasks and Batch Events', () => {
		expect(completed({ events: ['task', 'batch'] }).finish).toBe('workflowEnd');
		expect(completed({ events: ['dead_letter'] }).finish).toBeUndefined();
		const receive = description.properties.find((p) => p.name === 'events')!;
		expect((receive.options as Array<{ value: string }>).map((o) => o.value)).toEqual(['batch', 'dead_letter', 'task']);
		const finish = description.properties.find((p) => p.name === 'finish')!;
		expect((finish.options as Array<{ value: string }>).map((o) => o.value)).toEqual(['workflowEnd', 'reportStep']);
	});
});

const engine: NodeTestEngine = await startNodeTestEngine();

describe('Task Trigger answering', () => {
	let server: Awaited<ReturnType<typeof startWebhookServer>>;
	let trigger: TriggerHarness | undefined;

	beforeAll(async () => {
		server = await startWebhookServer();
	});
	afterAll(async () => {
		await server?.close();
		await engine.stop();
	});
	afterEach(async () => {
		if (trigger?.staticData.production) await trigger.hook('delete', 'production');
		trigger = undefined;
	});

	async function activeTrigger(parameters: INodeParameters) {
		trigger = triggerHarness({ createQueueIfMissing: true, ...parameters }, engine.credentials, server.urls);
		server.attach(trigger);
		expect(await trigger.hook('create', 'production')).toBe(true);
		return { t: trigger, secret: (trigger.staticData.production as IDataObject).secret as string };
	}

	async function post(t: TriggerHarness, body: string, headers: Record<string, string>) {
		const res = await fetch(`${server.webhookBaseUrl}/${t.node.webhookId}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
		return { status: res.status, headers: res.headers, body: await res.text(), call: server.calls.at(-1)! };
	}

	function signed(secret: string, id: string, body: string, extra: Record<string, string> = {}) {
		const at = new Date();
		return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, body), ...extra };
	}

	const taskBody = JSON.stringify({ id: 'tsk_async', queue: 'reports', name: 'summarise', payload: { doc: 7 }, attempt: 3, maxAttempts: 4, scheduledFor: '2026-03-01T12:00:00.000Z', createdAt: '2026-03-01T11:59:58.123Z' });

	describe('crafted deliveries', () => {
		it('With a Complete/Fail Step: answers a task 202 with the marker of its attempt, and still runs the workflow', async () => {
			const { t, secret } = await activeTrigger({ queue: byName('reports'), events: ['task'], finish: 'reportStep' });
			const headers = signed(secret, 'tsk_async', taskBody);
			const res = await post(t, taskBody, headers);
			expect(res.status).toBe(202);
			expect(JSON.parse(res.body)).toEqual({ accepted: true, finish: 'reportStep' });
			expect(res.headers.get('x-task-confirm')).toBe(confirmationHeader(secret, 'tsk_async', 3, headers['webhook-timestamp']));
			expect(res.call.output).toEqual([{ doc: 7, task: expect.objectContaining({ id: 'tsk_async', attempt: 3 }) }]);
		});

		it('With a Complete/Fail Step: still answers a batch event when the workflow ends', async () => {
			const { t, secret } = await activeTrigger({ queue: byName('reports'), events: ['task', 'batch'], finish: 'reportStep' });
			const batch = { id: 'b-9', state: 'completed', totalItems: 2, totalChunks: 1 };
			const event = JSON.stringify({ id: 'tsk_batch_event', queue: 'reports', name: 'batch.finished', payload: { batch }, attempt: 1, maxAttempts: 4, scheduledFor: '2026-03-01T12:00:00.000Z', createdAt: '2026-03-01T12:00:00.000Z' });
			const res = await post(t, event, signed(secret, 'tsk_batch_event', event));
			expect(res.status).toBe(200);
			expect(res.call.output).toEqual([batch]);
		});

		it('outputs a dead letter as the failed task with its attempts, marked with the x-task-attempt of its delivery', async () => {
			const { t, secret } = await activeTrigger({ queue: byName('reports'), events: ['task'], finish: 'reportStep' });
			const failedTask = {
				id: 'tsk_dead',
				queue: 'reports',
				name: 'summarise',
				state: 'failed',
				attemptCount: 1,
				lastError: 'Address not found',
				attempts: [{ number: 1, startedAt: '2026-03-01T12:00:00.000Z', durationMs: 812, statusCode: 202, errorClass: null, error: 'Address not found' }],
			};
			const event = JSON.stringify({ type: 'task.dead_lettered', task: failedTask });
			// The event's own id, and its own delivery attempt (the body has no top-level attempt).
			const headers = signed(secret, 'evt_0001', event, { 'x-task-attempt': '2', 'x-task-event': 'dead_letter', 'x-task-queue': 'reports' });
			const res = await post(t, event, headers);
			// An event is answered when the workflow ends, whatever Finish says.
			expect(res.status).toBe(200);
			expect(res.call.output).toEqual([failedTask]);
			expect(res.headers.get('x-task-confirm')).toBe(confirmationHeader(secret, 'evt_0001', 2, headers['webhook-timestamp']));
		});
	});

	describe('with the engine', () => {
		const callsFor = (taskId: unknown) => server.calls.filter((c) => c.headers['webhook-id'] === taskId);

		it('registers for dead letters, and receives the dead letter of a task that failed for good, with its attempts', async () => {
			const { secret } = await activeTrigger({ queue: byName('dead-ends'), events: ['task', 'dead_letter'], finish: 'reportStep' });
			const handlers = (await engine.api<{ items: IDataObject[] }>('GET', '/v1/queues/dead-ends/handlers')).body.items;
			expect(handlers).toEqual([expect.objectContaining({ mode: 'production', confirm: true })]);
			expect([...(handlers[0]!.events as string[])].sort()).toEqual(['dead_letter', 'task']);

			const enqueued = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: 'dead-ends', name: 'geocode', payload: { address: 'nowhere' } });
			expect(enqueued.status).toBe(201);
			const taskId = enqueued.body.id as string;
			// Answered 202: the attempt stays open until a report; the workflow fails its task for good.
			const delivery = await eventually(() => callsFor(taskId).find((c) => c.output !== undefined), 15_000, 'the task delivery');
			expect(delivery.status).toBe(202);
			const failed = await engine.api<IDataObject>('POST', `/v1/tasks/${taskId}/attempts/1/fail`, { error: 'Address not found', retry: false });
			expect(failed.status).toBe(200);
			expect(failed.body).toMatchObject({ state: 'failed', attemptCount: 1 });

			const event = await eventually(() => server.calls.find((c) => c.headers['x-task-event'] === 'dead_letter' && (c.output?.[0] as IDataObject | undefined)?.id === taskId), 15_000, 'the dead-letter event');
			// Its own webhook-id, the task under it with its attempts, answered when the workflow ended.
			expect(event.headers['webhook-id']).not.toBe(taskId);
			expect(event.headers['x-task-queue']).toBe('dead-ends');
			expect(event.status).toBe(200);
			expect(event.output).toEqual([
				expect.objectContaining({ id: taskId, state: 'failed', payload: { address: 'nowhere' }, attempts: [expect.objectContaining({ number: 1 })] }),
			]);
			expect(event.responseHeaders?.['x-task-confirm']).toBe(
				confirmationHeader(secret, String(event.headers['webhook-id']), Number(event.headers['x-task-attempt']), String(event.headers['webhook-timestamp'])),
			);
			// The task itself was delivered once.
			expect(callsFor(taskId)).toHaveLength(1);
		});

		it('does not answer tasks early when Finish is "When the workflow ends"', async () => {
			await activeTrigger({ queue: byName('sync-work'), events: ['task'], finish: 'workflowEnd' });
			const enqueued = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: 'sync-work', name: 'quick', payload: { n: 1 } });
			const done = await eventually(async () => {
				const task = (await engine.api<IDataObject>('GET', `/v1/tasks/${String(enqueued.body.id)}`)).body;
				return task.state === 'completed' && task;
			}, 15_000, 'completion');
			expect(callsFor(enqueued.body.id).map((c) => c.status)).toEqual([200]);
			expect(done).toMatchObject({ result: { n: 1, task: expect.objectContaining({ attempt: 1 }) }, attemptCount: 1 });
		});
	});
});
