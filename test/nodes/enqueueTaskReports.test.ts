// Enqueue Task's Complete, Fail and Heartbeat (issue 12) against a real engine: the task comes to a
// Task Trigger whose Finish is "With a Complete/Fail Step" (answered 202), and the node runs as the
// next step of that execution, finding the task and attempt through the trigger, as in n8n.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeExecutionData, INodeParameters } from 'n8n-workflow';
import { eventually } from '../helpers/engine.js';
import { runAfterTrigger, runNode, type AfterTriggerOptions } from './harness.js';
import { byName, startNodeTestEngine, type NodeTestEngine } from './nodeEngine.js';
import { startWebhookServer } from './webhookServer.js';
import { triggerHarness, type TriggerHarness } from './harness.js';

let engine: NodeTestEngine;
let server: Awaited<ReturnType<typeof startWebhookServer>>;
let trigger: TriggerHarness;
const QUEUE = 'long-work';

beforeAll(async () => {
	engine = await startNodeTestEngine();
	server = await startWebhookServer();
	trigger = triggerHarness({ queue: byName(QUEUE), events: ['task'], finish: 'reportStep', createQueueIfMissing: true }, engine.credentials, server.urls);
	server.attach(trigger);
	await trigger.hook('create', 'production');
});

afterAll(async () => {
	if (trigger?.staticData.production) await trigger.hook('delete', 'production');
	await server?.close();
	await engine?.stop();
});

async function enqueue(extra: IDataObject = {}): Promise<string> {
	const { status, body } = await engine.api<IDataObject>('POST', '/v1/tasks', { queue: QUEUE, name: 'summarise', payload: { doc: 'a' }, ...extra });
	expect(status, JSON.stringify(body)).toBe(201);
	return body.id as string;
}

/** The trigger's output item for an attempt of the task, once the engine has delivered it. */
async function delivered(taskId: string, attempt = 1): Promise<IDataObject> {
	const call = await eventually(
		() => server.calls.find((c) => c.headers['webhook-id'] === taskId && (c.output?.[0]?.task as IDataObject | undefined)?.attempt === attempt),
		15_000,
		`delivery of attempt ${attempt} of ${taskId}`,
	);
	expect(call.status).toBe(202);
	return call.output![0]!;
}

async function task(id: string): Promise<IDataObject> {
	const { status, body } = await engine.api<IDataObject>('GET', `/v1/tasks/${id}`);
	expect(status).toBe(200);
	return body;
}

/** Runs Enqueue Task as the step after the Task Trigger that output `triggerItem`. */
const step = (parameters: INodeParameters, triggerItem: IDataObject, options: Partial<AfterTriggerOptions> = {}) =>
	runAfterTrigger('enqueueTask', { resource: 'task', taskSource: 'trigger', ...parameters }, triggerItem, { credentials: engine.credentials, typeVersion: 1.1, ...options });

const outputOf = (result: Awaited<ReturnType<typeof step>>) => {
	if (result.error) throw result.error;
	return result.outputs[0]!;
};

describe('Complete', () => {
	it('keeps a 202-answered attempt open past its timeout, until Complete reports it with the input item as result', async () => {
		const id = await enqueue({ timeoutSeconds: 1 });
		const item = await delivered(id);
		expect(item).toEqual({ doc: 'a', task: expect.objectContaining({ id, attempt: 1 }) });
		// Two seconds past its 1 s timeout the attempt is still open: the engine waits for the report.
		const observedUntil = Date.now() + 2_500;
		const open = await eventually(async () => {
			const t = await task(id);
			if (t.state !== 'active') throw new Error(`task is ${String(t.state)}, not active`);
			return Date.now() > observedUntil ? t : undefined;
		}, 6_000, 'the attempt to stay open past its timeout');
		expect(open.deadlineAt).toEqual(expect.any(String));

		const output = outputOf(await step({ operation: 'complete', resultSource: 'inputItem' }, item, { items: [{ json: { summary: 'short' }, pairedItem: { item: 0 } }] }));
		expect(output).toEqual([{ json: expect.objectContaining({ id, state: 'completed', result: { summary: 'short' }, priority: 'normal' }), pairedItem: [{ item: 0 }] }]);
		expect(await task(id)).toMatchObject({ state: 'completed', attemptCount: 1, result: { summary: 'short' }, deadlineAt: null });
		// Delivered once: no timeout, no retry, no second run.
		expect(server.calls.filter((c) => c.headers['webhook-id'] === id)).toHaveLength(1);
	});

	it('reports once for the whole input, with a result written below, and finds a renamed trigger', async () => {
		const id = await enqueue();
		const item = await delivered(id);
		const items: INodeExecutionData[] = [1, 2, 3].map((page) => ({ json: { page }, pairedItem: { item: 0 } }));
		const output = outputOf(
			await step({ operation: 'complete', resultSource: 'defineBelow', result: '={{ { pages: $input.all().length } }}' }, item, { items, triggerName: 'Summarise worker' }),
		);
		expect(output).toHaveLength(1);
		expect(output[0]!.pairedItem).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(await task(id)).toMatchObject({ state: 'completed', result: { pages: 3 } });
	});
});

describe('Fail', () => {
	it('"Never" makes a dead letter after one attempt; a later Complete is refused as closed, the same Fail again is fine', async () => {
		const id = await enqueue();
		const item = await delivered(id);
		const failed = outputOf(await step({ operation: 'fail', errorMessage: 'Address not found', retryMode: 'never' }, item));
		expect(failed[0]!.json).toMatchObject({ id, state: 'failed', attemptCount: 1 });
		expect(String((await task(id)).lastError)).toContain('Address not found');

		const late = await step({ operation: 'complete', resultSource: 'none' }, item);
		expect(late.error?.name).toBe('NodeApiError');
		expect(late.error!.httpCode).toBe('409');
		expect(late.error!.description).toMatch(/no longer open/);
		expect((await task(id)).state).toBe('failed');

		const again = outputOf(await step({ operation: 'fail', errorMessage: 'Address not found', retryMode: 'never' }, item));
		expect(again[0]!.json).toMatchObject({ id, state: 'failed', attemptCount: 1 });
	});

	it('"After a Delay" retries after exactly that long, not after the policy\'s backoff', async () => {
		// The policy alone would wait 10 minutes.
		const id = await enqueue({ retry: { delaySeconds: 600 } });
		const first = await delivered(id);
		const reportedAt = Date.now();
		const failed = outputOf(await step({ operation: 'fail', errorMessage: 'Rate limited', retryMode: 'afterDelay', retryAfter: 2, retryAfterUnit: 'seconds' }, first));
		expect(failed[0]!.json).toMatchObject({ id, state: 'retrying' });

		const second = await delivered(id, 2);
		const waitedMs = Date.now() - reportedAt;
		expect(waitedMs).toBeGreaterThanOrEqual(1_950);
		expect(waitedMs).toBeLessThan(10_000);
		outputOf(await step({ operation: 'complete', resultSource: 'inputItem' }, second, { items: [{ json: { ok: true }, pairedItem: { item: 0 } }] }));
		expect(await task(id)).toMatchObject({ state: 'completed', attemptCount: 2, result: { ok: true } });
	});

	it('"By Policy" retries with the task\'s backoff', async () => {
		const id = await enqueue({ retry: { delaySeconds: 600 } });
		const item = await delivered(id);
		outputOf(await step({ operation: 'fail', errorMessage: 'Upstream 502', retryMode: 'policy' }, item));
		const t = await task(id);
		expect(t).toMatchObject({ state: 'retrying', attemptCount: 1 });
		// 600 s ± 25 % jitter from now.
		const dueInMs = Date.parse(String(t.dueAt)) - Date.now();
		expect(dueInMs).toBeGreaterThan(400_000);
		await engine.api('POST', `/v1/tasks/${id}/cancel`);
	});

	it('a delay beyond the policy\'s max delay is a 400 naming retryAfterSeconds, and changes nothing', async () => {
		const id = await enqueue({ retry: { delaySeconds: 1, maxDelaySeconds: 10 } });
		const item = await delivered(id);
		const refused = await step({ operation: 'fail', errorMessage: 'later', retryMode: 'afterDelay', retryAfter: 1, retryAfterUnit: 'minutes' }, item);
		expect(refused.error?.name).toBe('NodeApiError');
		expect(refused.error!.httpCode).toBe('400');
		expect(refused.error!.message).toContain('retryAfterSeconds');
		expect(await task(id)).toMatchObject({ state: 'active', attemptCount: 1 });
		outputOf(await step({ operation: 'complete', resultSource: 'none' }, item));
	});
});

describe('Heartbeat', () => {
	it('records progress, moves the deadline, and passes its input items through, binary data included', async () => {
		const id = await enqueue();
		const item = await delivered(id);
		const items: INodeExecutionData[] = [{ json: { chapter: 4 }, binary: { data: { data: 'aGk=', mimeType: 'text/plain' } }, pairedItem: { item: 0 } }];
		const output = outputOf(
			await step({ operation: 'heartbeat', progress: { percent: 40, message: 'Chapter 4 of 10' }, options: { extendSeconds: 600 } }, item, { items }),
		);
		expect(output).toEqual([{ json: { chapter: 4 }, binary: { data: expect.objectContaining({ mimeType: 'text/plain' }) }, pairedItem: { item: 0 } }]);

		const t = await task(id);
		expect(t).toMatchObject({ state: 'active', progress: { percent: 40, message: 'Chapter 4 of 10', updatedAt: expect.any(String) } });
		const deadlineInMs = Date.parse(String(t.deadlineAt)) - Date.now();
		expect(deadlineInMs).toBeGreaterThan(590_000);
		expect(deadlineInMs).toBeLessThan(605_000);
		outputOf(await step({ operation: 'complete', resultSource: 'none' }, item));
	});

	it('an extension beyond a day is a 400 naming extendSeconds', async () => {
		const id = await enqueue();
		const item = await delivered(id);
		const refused = await step({ operation: 'heartbeat', options: { extendSeconds: '={{ 86400 + 1 }}' } }, item);
		expect(refused.error!.httpCode).toBe('400');
		expect(refused.error!.message).toContain('extendSeconds');
		outputOf(await step({ operation: 'complete', resultSource: 'none' }, item));
	});
});

describe('Enqueue with an async timeout', () => {
	it('gives the 202-answered attempt that long before its deadline', async () => {
		const enqueued = await runNode(
			'enqueueTask',
			{ resource: 'task', operation: 'enqueue', queue: byName(QUEUE), taskName: 'summarise', payloadSource: 'inputItem', when: 'now', options: { asyncTimeoutSeconds: 120 } },
			{ credentials: engine.credentials, typeVersion: 1.1, items: [{ json: { doc: 'b' } }] },
		);
		expect(enqueued.error).toBeUndefined();
		const id = enqueued.outputs[0]![0]!.json.id as string;
		const item = await delivered(id);
		const t = await eventually(async () => {
			const current = await task(id);
			return current.deadlineAt ? current : undefined;
		}, 5_000, 'the deadline of the open attempt');
		const openForMs = Date.parse(String(t.deadlineAt)) - Date.parse(String(t.startedAt));
		expect(openForMs).toBeGreaterThanOrEqual(119_000);
		expect(openForMs).toBeLessThan(125_000);
		outputOf(await step({ operation: 'complete', resultSource: 'none' }, item));
	});
});

describe('By ID', () => {
	it('reports once per item with the IDs the items hold, continuing on fail with an error item', async () => {
		const id = await enqueue();
		await delivered(id);
		const items = [{ json: { taskId: id, attempt: 1 } }, { json: { taskId: 'no-such-task', attempt: 1 } }];
		const parameters = { resource: 'task', operation: 'complete', taskSource: 'byId', taskId: '={{ $json.taskId }}', attempt: '={{ $json.attempt }}', resultSource: 'inputItem' };
		const result = await runNode('enqueueTask', parameters, { credentials: engine.credentials, typeVersion: 1.1, items, onError: 'continueRegularOutput' });
		const output = result.outputs[0]!;
		expect(output.map((o) => o.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(output[0]!.json).toMatchObject({ id, state: 'completed', result: { taskId: id, attempt: 1 } });
		expect(output[1]!.json.error).toEqual(expect.any(String));
	});
});

describe('finding the task', () => {
	it('says what to do when no Task Trigger started the execution', async () => {
		const result = await runNode('enqueueTask', { resource: 'task', operation: 'complete', taskSource: 'trigger', resultSource: 'none' }, { credentials: engine.credentials });
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error!.message).toBe('No Task Trigger started this execution');
		expect(result.error!.description).toMatch(/By ID/);
	});

	it('refuses a trigger item that is an event, not a task (a dead letter)', async () => {
		const deadLetter = { id: 'tsk_x', state: 'failed', attempts: [{ number: 1 }] };
		const result = await step({ operation: 'fail', errorMessage: 'x', retryMode: 'never' }, deadLetter);
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error!.message).toBe('The Task Trigger "Task Trigger" did not start this execution with a task');
	});
});
