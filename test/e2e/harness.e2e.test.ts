import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '../helpers/receiver.js';
import { eventually, PACKAGE_NAME, startHarness, type Harness } from './harness.js';

/**
 * Proves the harness with core n8n nodes only: a Webhook → HTTP Request workflow enqueues a task on
 * the engine's API, the engine delivers it to a plain loopback handler, and both n8n's executions
 * API and the engine's task API show the outcome.
 */
describe('e2e harness: a real n8n enqueues on a real engine', () => {
	let h: Harness;
	beforeAll(async () => {
		h = await startHarness();
	});
	afterAll(async () => {
		h?.printTimings();
		await h?.stop();
	});

	/** Webhook (answers with the last node's output) → HTTP Request POST {engine}/v1/tasks. */
	function enqueueWorkflow(name: string, webhookPath: string, queue: string) {
		return {
			name,
			nodes: [
				{
					id: randomUUID(),
					name: 'Order received',
					type: 'n8n-nodes-base.webhook',
					typeVersion: 2,
					position: [0, 0],
					webhookId: randomUUID(),
					parameters: { httpMethod: 'POST', path: webhookPath, responseMode: 'lastNode', options: {} },
				},
				{
					id: randomUUID(),
					name: 'Enqueue email',
					type: 'n8n-nodes-base.httpRequest',
					typeVersion: 4.2,
					position: [220, 0],
					parameters: {
						method: 'POST',
						url: `${h.engineUrl}/v1/tasks`,
						sendHeaders: true,
						headerParameters: { parameters: [{ name: 'Authorization', value: `Bearer ${h.engineApiKey}` }] },
						sendBody: true,
						specifyBody: 'json',
						jsonBody: `={{ JSON.stringify({ queue: '${queue}', name: 'send-confirmation', payload: $json.body }) }}`,
						options: {},
					},
				},
			],
			connections: { 'Order received': { main: [[{ node: 'Enqueue email', type: 'main', index: 0 }]] } },
		};
	}

	it('a webhook workflow enqueues a task that a handler completes', async () => {
		const receiver = await startReceiver(() => ({ body: { sent: true } }));
		try {
			expect((await h.engineApi('POST', '/v1/queues', { name: 'emails' })).status).toBe(201);
			const handler = await h.engineApi('POST', '/v1/queues/emails/handlers', { url: receiver.url });
			expect(handler.status).toBe(201);

			const workflowId = await h.time('create + activate workflow', async () => {
				const id = await h.createWorkflow(enqueueWorkflow('Order → enqueue email', 'order', 'emails'));
				await h.activate(id);
				return id;
			});

			const order = { orderId: 'A-1001', email: 'buyer@example.test' };
			const res = await h.time('webhook → task completed', async () => {
				// Activation registers the webhook; poll it rather than trusting readiness.
				const answer = await eventually(async () => {
					const r = await fetch(h.webhookUrl('order'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(order) });
					return r.status === 404 ? undefined : r;
				}, 30_000, 'the webhook to be registered');
				const enqueued = await answer.json();
				await eventually(async () => (await h.engineApi('GET', `/v1/tasks/${enqueued.id}`)).body.state === 'completed', 30_000, 'the task to complete');
				return { status: answer.status, enqueued };
			});

			// n8n answered with the HTTP Request node's output: the engine's 201 body, the new task.
			expect(res.status).toBe(200);
			expect(res.enqueued).toMatchObject({ queue: 'emails', name: 'send-confirmation', payload: order });

			const task = (await h.engineApi('GET', `/v1/tasks/${res.enqueued.id}`)).body;
			expect(task).toMatchObject({ state: 'completed', attemptCount: 1, result: { sent: true } });
			expect(receiver.requests).toHaveLength(1);
			const delivery = receiver.requests[0];
			expect(delivery.json).toMatchObject({ id: task.id, queue: 'emails', name: 'send-confirmation', payload: order, attempt: 1 });
			// The delivery is signed with the handler's secret, verifiable by any Standard Webhooks library.
			expect(() => new Webhook(handler.body.secret).verify(delivery.body, delivery.headers as Record<string, string>)).not.toThrow();

			const executions = await h.executions(workflowId, { includeData: true });
			expect(executions).toHaveLength(1);
			expect(executions[0]).toMatchObject({ status: 'success', finished: true, mode: 'webhook' });
			const runs = executions[0].data.resultData.runData['Enqueue email'];
			expect(runs[0].data.main[0][0].json.id).toBe(task.id);
		} finally {
			await receiver.close();
		}
	});

	it('an engine error fails the n8n execution and the webhook answers 500', async () => {
		const workflowId = await h.createWorkflow(enqueueWorkflow('Order → unknown queue', 'order-unknown-queue', 'no-such-queue'));
		await h.activate(workflowId);
		const answer = await eventually(async () => {
			const r = await fetch(h.webhookUrl('order-unknown-queue'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"orderId":"A-1002"}' });
			return r.status === 404 ? undefined : r;
		}, 30_000, 'the webhook to be registered');
		expect(answer.status).toBe(500);

		const executions = await eventually(async () => {
			const list = await h.executions(workflowId, { includeData: true });
			return list.length === 1 && list[0].stoppedAt ? list : undefined;
		}, 15_000, 'the failed execution to be saved');
		expect(executions[0]).toMatchObject({ status: 'error', mode: 'webhook' });
		expect(JSON.stringify(executions[0].data.resultData.error)).toContain('404');
		expect((await h.engineApi('GET', '/v1/tasks?queue=no-such-queue')).body).toMatchObject({ items: [] });
	});

	it('n8n loaded every node and the credential of our package, and accepts an engine credential', async () => {
		const types = await h.loadedTypes();
		// usableAsTool adds an AI-tool variant `<name>Tool` of every non-trigger node.
		const ours = types.nodes.filter((name) => name.startsWith(`${PACKAGE_NAME}.`) && !name.endsWith('Tool')).sort();
		expect(ours).toEqual(['batchProcess', 'enqueueTask', 'queueHealth', 'scheduleTask', 'taskTrigger'].map((n) => `${PACKAGE_NAME}.${n}`));
		expect(types.nodes).toContain(`${PACKAGE_NAME}.enqueueTaskTool`);
		expect(types.credentials).toContain('backgroundTasksApi');
		expect(await h.engineCredential()).toMatch(/^\w+$/);
	});

});
