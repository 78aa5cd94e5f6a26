import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, type Harness } from './harness.js';
import { EXAMPLE_CREDENTIAL_NAME, msBetween, nodeOutput, readExample, scenarios, type Scenarios } from './scenarioHelpers.js';
import { longRunningScenario } from './longRunning.js';

/**
 * The product as a user runs it (issue 7): the workflows of `examples/` deployed as they are (scenario
 * 2 then updates one with a fix, scenario 5 deploys a copy on another queue), their credential
 * resolved by name as on an import, into a real n8n driving the real engine. One n8n and one engine
 * for all scenarios: n8n takes up to a minute to start on a loaded machine. Each scenario asserts
 * through the engine's API and n8n's executions API.
 */
describe('e2e scenarios: a real n8n with our nodes, driving a real engine', () => {
	let h: Harness;
	let s: Scenarios;
	/** Figures worth seeing next to the timings: backoff waits, schedule lateness, answer times. */
	const observed: string[] = [];
	beforeAll(async () => {
		h = await startHarness();
		s = scenarios(h);
		await h.engineCredential(EXAMPLE_CREDENTIAL_NAME);
	});
	afterAll(async () => {
		h?.printTimings();
		if (observed.length > 0) console.log(`e2e observed:\n${observed.map((line) => `  ${line}`).join('\n')}`);
		await h?.stop();
	});

	const task = async (id: string) => (await h.engineApi('GET', `/v1/tasks/${id}`)).body;
	const taskInState = (id: string, states: string[], timeoutMs: number) =>
		eventually(async () => {
			const t = await task(id);
			return states.includes(t.state) ? t : undefined;
		}, timeoutMs, `task ${id} to be ${states.join(' or ')}`);

	it('1. order → background email: the webhook answers 201 at once, a Task Trigger workflow does the work', async () => {
		const workerId = await h.time('1: deploy email worker + order workflow', async () => {
			const id = await s.deploy('1-email-worker.json');
			await s.deploy('1-order-enqueue-email.json');
			await s.liveHandlers('emails');
			return id;
		});
		// The Task Trigger created the queue with the engine's defaults when it was activated.
		expect((await h.engineApi('GET', '/v1/queues/emails')).status).toBe(200);

		const order = { orderId: 'A-1001', email: 'buyer@example.test', total: 42.5 };
		const { answer, done } = await h.time('1: order webhook → email task completed', async () => {
			const answer = await s.callWebhook('order', order);
			const done = await taskInState(answer.body.taskId, ['completed', 'failed'], 30_000);
			return { answer, done };
		});

		observed.push(`1: order webhook answered 201 in ${answer.ms} ms`);
		// Answered at once: the body is the task as just enqueued, before any delivery.
		expect(answer.status).toBe(201);
		expect(answer.body).toEqual({ taskId: expect.any(String), state: 'queued', queue: 'emails' });
		expect(done).toMatchObject({
			id: answer.body.taskId,
			state: 'completed',
			name: 'send-confirmation',
			payload: order,
			idempotencyKey: 'A-1001',
			attemptCount: 1,
			// The worker workflow's last node's first item, as the engine kept it.
			result: { sent: true, to: order.email, orderId: 'A-1001', attempt: 1 },
		});
		expect(done.attempts).toEqual([expect.objectContaining({ number: 1, statusCode: 200 })]);

		// The same order again (a customer double-click): the idempotency key returns the same task.
		const again = await s.callWebhook('order', order);
		expect(again).toMatchObject({ status: 201, body: { taskId: done.id } });
		expect((await h.engineApi('GET', '/v1/tasks?queue=emails')).body.items).toHaveLength(1);

		const [execution] = await s.finishedExecutions(workerId, 1);
		expect(execution).toMatchObject({ status: 'success', mode: 'webhook' });
		expect(nodeOutput(execution, 'Task Trigger')).toEqual([
			{ ...order, task: expect.objectContaining({ id: done.id, attempt: 1, queue: 'emails', name: 'send-confirmation' }) },
		]);
		expect(nodeOutput(execution, 'Send email')).toEqual([done.result]);
	}, 240_000);

	it('2. retry then dead letter: backoff until attempt 3 succeeds; a broken worker dead-letters, Queue Health reports it, redrive completes it', async () => {
		// Short, exact retry policies on the queues (the defaults wait a minute): the Task Triggers
		// find the queues existing and keep their settings.
		expect((await h.engineApi('POST', '/v1/queues', { name: 'payments', retry: { limit: 2, delaySeconds: 1, backoff: 'exponential', maxDelaySeconds: 10 } })).status).toBe(201);
		expect((await h.engineApi('POST', '/v1/queues', { name: 'invoices', retry: { limit: 1, delaySeconds: 1, backoff: 'fixed', maxDelaySeconds: 10 } })).status).toBe(201);
		const ids = await h.time('2: deploy 4 workflows', async () => {
			const flaky = await s.deploy('2-flaky-payment-worker.json');
			const broken = await s.deploy('2-invoice-worker-broken.json');
			const report = await s.deploy('2-queue-health-report.json');
			await s.deploy('2-redrive-dead-letters.json');
			await s.liveHandlers('payments');
			await s.liveHandlers('invoices');
			return { flaky, broken, report };
		});

		const payment = (await h.engineApi('POST', '/v1/tasks', { queue: 'payments', name: 'charge-card', payload: { orderId: 'P-7' } })).body;
		const invoice = (await h.engineApi('POST', '/v1/tasks', { queue: 'invoices', name: 'send-invoice', payload: { invoiceId: 'INV-7' } })).body;
		const [paid, dead] = await h.time('2: 3 attempts with backoff / 2 attempts → dead letter', () =>
			Promise.all([taskInState(payment.id, ['completed', 'failed'], 60_000), taskInState(invoice.id, ['completed', 'failed'], 60_000)]),
		);

		// Retried with backoff: 500 (the failed execution), 500, then 200 on attempt 3.
		expect(paid).toMatchObject({ state: 'completed', attemptCount: 3, result: { charged: true, orderId: 'P-7', attempt: 3 } });
		expect(paid.attempts.map((a: { number: number; statusCode: number }) => [a.number, a.statusCode])).toEqual([[1, 500], [2, 500], [3, 200]]);
		// Exponential from 1 s with ±25 % jitter: at least 0.75 s, then 1.5 s, between an attempt's end
		// and the next start (100 ms of slack for the two clocks' rounding).
		for (const [i, minimumMs] of [[1, 750], [2, 1500]]) {
			const previous = paid.attempts[i - 1];
			const gap = msBetween(previous.startedAt, paid.attempts[i].startedAt) - previous.durationMs;
			observed.push(`2: wait before attempt ${i + 1}: ${gap} ms (jittered minimum ${minimumMs} ms)`);
			expect(gap, `wait before attempt ${i + 1}`).toBeGreaterThanOrEqual(minimumMs - 100);
			expect(gap, `wait before attempt ${i + 1}`).toBeLessThan(minimumMs * 2 + 5_000);
		}
		const flakyRuns = await s.finishedExecutions(ids.flaky, 3);
		expect(flakyRuns.map((e) => e.status)).toEqual(['error', 'error', 'success']);
		expect(flakyRuns.map((e) => nodeOutput(e, 'Task Trigger')[0].task.attempt)).toEqual([1, 2, 3]);
		expect(JSON.stringify(flakyRuns[0].data.resultData.error)).toContain('Payment gateway timed out (attempt 1)');

		// Attempts exhausted (limit 1 → 2 attempts): a dead letter.
		expect(dead).toMatchObject({ state: 'failed', attemptCount: 2 });
		expect(dead.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500]);
		expect((await s.finishedExecutions(ids.broken, 2)).map((e) => e.status)).toEqual(['error', 'error']);

		// A third workflow: Queue Health shows the queue unhealthy and lists the dead letter.
		const report = await h.time('2: queue health report workflow', () => s.callWebhook('queue-health', {}));
		expect(report.status).toBe(200);
		const group = report.body.find((g: { taskIds: string[] }) => g.taskIds.includes(invoice.id));
		expect(group).toMatchObject({ queue: 'invoices', count: 1, statusCode: 500, signature: expect.stringMatching(/^sig_/) });
		const [reportRun] = await s.finishedExecutions(ids.report, 1);
		const [health] = nodeOutput(reportRun, 'Invoices health');
		expect(health).toMatchObject({ queue: 'invoices', deadLetters: 1, status: expect.stringMatching(/^(warning|critical)$/) });
		expect(health.reasons.map((r: { code: string }) => r.code)).toContain('dead_letters');

		// Fix the worker (its Stop and Error becomes the real work) and update the active workflow:
		// n8n re-publishes it; the Task Trigger is unchanged, so its handler (URL, secret) stays.
		const [oldHandler] = await s.liveHandlers('invoices');
		const broken = await s.getWorkflow(ids.broken);
		const fixedNodes = broken.nodes.map((n) =>
			n.name !== 'Invoice service down'
				? n
				: {
						id: randomUUID(),
						name: 'Send invoice',
						type: 'n8n-nodes-base.set',
						typeVersion: 3.4,
						position: n.position,
						parameters: { assignments: { assignments: [{ id: randomUUID(), name: 'invoiced', value: '={{ $json.invoiceId }}', type: 'string' }] }, options: {} },
					},
		);
		const connections = { 'Task Trigger': { main: [[{ node: 'Send invoice', type: 'main', index: 0 }]] } };
		await h.time('2: update the broken worker (re-published)', async () => {
			await s.update(ids.broken, { name: broken.name, nodes: fixedNodes, connections, settings: broken.settings });
		});
		const [newHandler] = await s.liveHandlers('invoices');
		expect(newHandler.url).toBe(oldHandler.url);

		const redriven = await h.time('2: redrive workflow → task completed', async () => {
			const answer = await s.callWebhook('redrive', { signature: group.signature });
			expect(answer).toMatchObject({ status: 200, body: { redriven: 1, taskIds: [invoice.id] } });
			return await taskInState(invoice.id, ['completed', 'failed'], 30_000);
		});
		// Same id, attempt numbers continue, the fixed workflow's output is the result.
		expect(redriven).toMatchObject({ id: invoice.id, state: 'completed', attemptCount: 3, result: { invoiced: 'INV-7' } });
		expect(redriven.attempts.map((a: { number: number; statusCode: number }) => [a.number, a.statusCode])).toEqual([[1, 500], [2, 500], [3, 200]]);
		expect((await h.engineApi('GET', '/v1/dead-letters?queue=invoices')).body).toEqual({ groups: [] });
	}, 240_000);

	it('3. schedule: a 6-field cron fires at its instants; deactivating the worker removes its handler and tasks wait', async () => {
		const [workerId, setUpId] = await h.time('3: deploy report worker + schedule workflow', async () => {
			const id = await s.deploy('3-report-worker.json');
			const setUp = await s.deploy('3-create-report-schedule.json');
			await s.liveHandlers('reports');
			return [id, setUp];
		});
		const created = await s.callWebhook('report-schedule', {});
		expect(created).toMatchObject({
			status: 200,
			body: { name: 'sales-report', queue: 'reports', cron: '*/3 * * * * *', timezone: 'UTC', created: true, nextFireAt: expect.any(String) },
		});
		// n8n keeps the node's hint with its run and shows it over the output: the next three runs.
		const [setUpRun] = await s.finishedExecutions(setUpId, 1);
		expect(setUpRun.data?.resultData?.runData?.['Every 3 seconds']?.[0]?.hints).toEqual([
			{ message: expect.stringMatching(/^"sales-report" runs next \(UTC\): \w{3}, \d{1,2} \w{3} \d{4}, \d{2}:\d{2}:\d{2}( · \w{3}, \d{1,2} \w{3} \d{4}, \d{2}:\d{2}:\d{2}){2}$/), location: 'outputPane' },
		]);

		// The first three occurrences, once all three are final (the list is newest first).
		const firstThree = await h.time('3: three occurrences completed', () =>
			eventually(async () => {
				const { items } = (await h.engineApi('GET', '/v1/tasks?queue=reports&limit=100')).body;
				const earliest = [...items].sort((a, b) => msBetween(b.schedule.occurrence, a.schedule.occurrence)).slice(0, 3);
				if (earliest.length < 3 || earliest.some((t) => t.state !== 'completed')) return undefined;
				// The list leaves out attempt histories: read each task.
				return await Promise.all(earliest.map((t) => task(t.id)));
			}, 30_000, 'the first three schedule occurrences to complete'),
		);
		const occurrences = firstThree.map((t) => Date.parse(t.schedule.occurrence));
		// Every third second on the second, and none skipped or doubled.
		for (const at of occurrences) expect(at % 3000).toBe(0);
		expect([occurrences[1] - occurrences[0], occurrences[2] - occurrences[1]]).toEqual([3000, 3000]);

		const executions = await s.finishedExecutions(workerId, 3);
		for (const t of firstThree) {
			expect(t).toMatchObject({ name: 'build-report', payload: { report: 'sales' }, schedule: { name: 'sales-report' }, result: { report: 'sales', occurrence: t.schedule.occurrence } });
			// Delivered at the instant, not at a later polling tick (generous bounds for a loaded CI machine).
			const lateness = msBetween(t.schedule.occurrence, t.attempts[0].startedAt);
			expect(lateness).toBeGreaterThanOrEqual(0);
			expect(lateness).toBeLessThan(3000);
			const execution = executions.find((e) => nodeOutput(e, 'Task Trigger')[0].task.id === t.id);
			expect(execution, `an n8n execution of task ${t.id}`).toBeDefined();
			const startedAfter = msBetween(t.schedule.occurrence, execution!.startedAt);
			observed.push(`3: occurrence ${t.schedule.occurrence}: delivered +${lateness} ms, n8n execution started +${startedAfter} ms`);
			expect(startedAfter).toBeGreaterThanOrEqual(-100);
			expect(startedAfter).toBeLessThan(5000);
		}

		// Deactivated: the Task Trigger removes its handler; occurrences keep coming and wait as queued.
		await h.time('3: deactivate (until n8n unpublished it)', () => s.deactivate(workerId));
		expect((await h.engineApi('GET', '/v1/queues/reports/handlers')).body.items).toEqual([]);
		const waiting = await eventually(async () => {
			const { items } = (await h.engineApi('GET', '/v1/tasks?queue=reports&state=queued')).body;
			return items.length > 0 ? items[0] : undefined;
		}, 15_000, 'an occurrence task waiting as queued');
		const health = (await h.engineApi('GET', '/v1/queues/reports/health')).body;
		expect(health).toMatchObject({ queue: 'reports', status: 'critical', handlers: { count: 0 } });
		expect(health.reasons.map((r: { code: string }) => r.code)).toContain('no_handler');
		expect((await task(waiting.id)).state).toBe('queued');

		const schedules = (await h.engineApi('GET', '/v1/schedules')).body.items;
		expect((await h.engineApi('DELETE', `/v1/schedules/${schedules.find((x: { name: string }) => x.name === 'sales-report').id}`)).status).toBe(204);
	}, 240_000);

	it('4. batch: 10,000 items in chunks of 500 complete with exact counters, and the batch event arrives', async () => {
		const ids = await h.time('4: deploy chunk worker, batch-event worker, import', async () => {
			const chunks = await s.deploy('4-contacts-chunk-worker.json');
			const events = await s.deploy('4-batch-finished.json');
			await s.deploy('4-import-contacts-batch.json');
			await s.liveHandlers('contacts', 2);
			return { chunks, events };
		});

		const { created, batch } = await h.time('4: 10,000 items → 20 chunks completed', async () => {
			const created = await s.callWebhook('import-contacts', { count: 10_000 });
			expect(created.status, JSON.stringify(created.body)).toBe(200);
			const batch = await eventually(async () => {
				const b = (await h.engineApi('GET', `/v1/batches/${created.body.id}`)).body;
				return ['completed', 'completed_with_failures', 'failed', 'cancelled'].includes(b.state) ? b : undefined;
			}, 180_000, 'the batch to finish');
			return { created, batch };
		});
		expect(created.body).toMatchObject({ totalItems: 10_000, totalChunks: 20 });
		expect(batch).toMatchObject({
			state: 'completed',
			totalItems: 10_000,
			totalChunks: 20,
			items: { processed: 10_000, failed: 0 },
			chunks: { completed: 20, failed: 0, active: 0, pending: 0 },
		});

		const chunkTasks = (await h.engineApi('GET', '/v1/tasks?queue=contacts&name=import-contacts&limit=100')).body.items;
		expect(chunkTasks).toHaveLength(20);
		expect(chunkTasks.every((t: { state: string }) => t.state === 'completed')).toBe(true);
		expect(chunkTasks.map((t: { batch: { chunkIndex: number } }) => t.batch.chunkIndex).sort((a: number, b: number) => a - b)).toEqual([...Array(20).keys()]);
		expect(chunkTasks.reduce((sum: number, t: { result: { imported: number } }) => sum + t.result.imported, 0)).toBe(10_000);
		const chunkRuns = await s.finishedExecutions(ids.chunks, 20);
		expect(chunkRuns).toHaveLength(20);
		expect(chunkRuns.every((e) => e.status === 'success')).toBe(true);

		// The completion event: a second Task Trigger listening for batch events on the queue.
		const [eventRun] = await h.time('4: batch.finished event workflow', () => s.finishedExecutions(ids.events, 1));
		expect(eventRun.status).toBe('success');
		expect(nodeOutput(eventRun, 'Batch events')[0]).toMatchObject({ id: batch.id, state: 'completed', items: { processed: 10_000, failed: 0 } });
		// n8n records the execution before its answer reaches the engine: wait for the task to settle.
		const eventTasks = await eventually(async () => {
			const items = (await h.engineApi('GET', '/v1/tasks?queue=contacts&name=batch.finished')).body.items;
			return items.length > 0 && items.every((t: { state: string }) => !['queued', 'active'].includes(t.state)) ? items : undefined;
		}, 15_000, 'the batch event task to settle');
		expect(eventTasks).toHaveLength(1);
		expect(eventTasks[0]).toMatchObject({ state: 'completed', result: { batchId: batch.id, state: 'completed', processed: 10_000 } });
	}, 240_000);

	it('5. signature: forged deliveries to the Task Trigger webhook get 401 and start no execution', async () => {
		// The email worker again, on its own queue (n8n assigns the trigger a fresh webhook id).
		const worker = await readExample('1-email-worker.json');
		worker.name = 'Signature check worker';
		worker.nodes[0].parameters.queue.value = 'signed';
		const workerId = await s.deploy(worker);
		const [handler] = await s.liveHandlers('signed');
		// The handler the engine delivers to is this workflow's production webhook.
		const stored = await s.getWorkflow(workerId);
		expect(handler.url).toBe(h.webhookUrl(`${stored.nodes.find((n) => n.name === 'Task Trigger')!.webhookId}/webhook`));

		// A delivery body as the engine sends it (docs/delivery-contract.md), fixed bytes per id.
		const now = new Date().toISOString();
		const delivery = (id: string) =>
			JSON.stringify({ id, queue: 'signed', name: 'send-confirmation', payload: { email: 'x@example.test' }, attempt: 1, maxAttempts: 4, scheduledFor: now, createdAt: now });
		const post = async (headers: Record<string, string>, body: string) => {
			const res = await fetch(handler.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
			return { status: res.status, body: await res.json().catch(() => null) };
		};
		const signed = (secret: string, id: string, at: Date) => ({
			'webhook-id': id,
			'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
			'webhook-signature': new Webhook(secret).sign(id, at, delivery(id)),
		});

		await h.time('5: forged posts', async () => {
			// Signed with a secret that is not the handler's.
			const forgedId = randomUUID();
			const forged = await post(signed(`whsec_${randomBytes(24).toString('base64')}`, forgedId, new Date()), delivery(forgedId));
			expect(forged).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature', message: expect.stringContaining('bad_signature') } } });
			// The right secret, but a replay from ten minutes ago.
			const staleId = randomUUID();
			const stale = await post(signed(handler.secret, staleId, new Date(Date.now() - 600_000)), delivery(staleId));
			expect(stale).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature', message: expect.stringContaining('timestamp') } } });
			// A valid signature over other bytes than the ones sent.
			const tamperedId = randomUUID();
			const tampered = await post(signed(handler.secret, tamperedId, new Date()), delivery(tamperedId).replace('x@example.test', 'y@example.test'));
			expect(tampered).toMatchObject({ status: 401, body: { error: { message: expect.stringContaining('bad_signature') } } });
			// No signature headers at all.
			expect((await post({}, delivery(randomUUID()))).status).toBe(401);
		});

		// Control: the same request correctly signed and fresh is accepted and runs the workflow.
		const genuineId = randomUUID();
		const genuine = await post(signed(handler.secret, genuineId, new Date()), delivery(genuineId));
		expect(genuine).toMatchObject({ status: 200, body: { sent: true, to: 'x@example.test' } });
		const executions = await s.finishedExecutions(workerId, 1);
		// Only the genuine delivery ran (the webhook answers forged ones before any execution starts).
		expect(executions.map((e) => nodeOutput(e, 'Task Trigger')[0].task.id)).toEqual([genuineId]);
		expect((await h.executions(workerId)).length).toBe(1);
	}, 240_000);

	it('6. long-running workflows: a 40 s run with heartbeats completes once, a task failed for good, a retry after 5 s, a dead-letter alert', async () => {
		await longRunningScenario(h, s, observed);
	}, 240_000);
});
