import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, PACKAGE_NAME, startHarness, type Harness } from './harness.js';
import type { Json } from './engineProcess.js';
import { nodeOutput, scenarios, type Scenarios, type WorkflowJson } from './scenarioHelpers.js';

/**
 * Flow control (DESIGN §5.3, issue 13) as a user builds it in n8n: Enqueue Task's Debounce and
 * Concurrency Key options, and the Task Trigger's Queue Settings, in workflows deployed into a real
 * n8n that drives the real engine. Asserted through the engine's tasks and their attempts, and
 * through n8n's executions.
 */

const CREDENTIAL_NAME = 'Background Tasks (flow control e2e)';

interface Interval {
	start: number;
	end: number;
}

/** Two time intervals share at least one instant (touching ends do not count). */
const overlaps = (a: Interval, b: Interval) => a.start < b.end && b.start < a.end;

describe('e2e flow control: debounce and per-key concurrency through the nodes', () => {
	let h: Harness;
	let s: Scenarios;
	let credential: { id: string; name: string };
	const observed: string[] = [];
	beforeAll(async () => {
		h = await startHarness();
		s = scenarios(h);
		// The harness's engine key has scope admin: the Task Trigger may create a queue with settings.
		credential = { id: await h.engineCredential(CREDENTIAL_NAME), name: CREDENTIAL_NAME };
	});
	afterAll(async () => {
		h?.printTimings();
		if (observed.length > 0) console.log(`e2e observed:\n${observed.map((line) => `  ${line}`).join('\n')}`);
		await h?.stop();
	});

	const node = (name: string, type: string, typeVersion: number, parameters: Json, extra: Json = {}) => ({
		id: randomUUID(),
		name,
		type,
		typeVersion,
		position: [0, 0],
		parameters,
		...extra,
	});
	// A function: the credential exists only once beforeAll has run.
	const withCredential = () => ({ credentials: { backgroundTasksApi: credential } });
	const chain = (...names: string[]) =>
		Object.fromEntries(names.slice(0, -1).map((name, i) => [name, { main: [[{ node: names[i + 1], type: 'main', index: 0 }]] }]));
	const queueRef = (queue: string) => ({ __rl: true, mode: 'name', value: queue });
	const taskTrigger = (queue: string, parameters: Json = {}) =>
		node('Task Trigger', `${PACKAGE_NAME}.taskTrigger`, 1, { queue: queueRef(queue), ...parameters }, withCredential());
	const enqueueTask = (parameters: Json) => node('Enqueue Task', `${PACKAGE_NAME}.enqueueTask`, 1.1, parameters, withCredential());
	const webhook = (path: string, parameters: Json = {}) =>
		node('Webhook', 'n8n-nodes-base.webhook', 2, { httpMethod: 'POST', path, responseMode: 'lastNode', options: {}, ...parameters }, { webhookId: randomUUID() });
	const set = (name: string, fields: Array<[string, string, string]>) =>
		node(name, 'n8n-nodes-base.set', 3.4, {
			assignments: { assignments: fields.map(([field, value, type]) => ({ id: randomUUID(), name: field, value, type })) },
			options: {},
		});

	const task = async (id: string) => (await h.engineApi('GET', `/v1/tasks/${id}`)).body;
	const tasksOf = async (queue: string): Promise<Json[]> => (await h.engineApi('GET', `/v1/tasks?queue=${queue}&limit=100`)).body.items;

	it('chat buffer: 5 messages of one user within 2 s, debounced (collect, 3 s) into one task and one worker execution', async () => {
		const worker: WorkflowJson = {
			name: 'Chat agent (queue: chat-buffer)',
			nodes: [
				taskTrigger('chat-buffer'),
				set('Agent run', [
					['user', '={{ $json.items[0].userId }}', 'string'],
					['messages', '={{ $json.items.length }}', 'number'],
					['prompt', "={{ $json.items.map(m => m.text).join(' / ') }}", 'string'],
				]),
			],
			connections: chain('Task Trigger', 'Agent run'),
		};
		const receiver: WorkflowJson = {
			name: 'Chat message → buffered agent run',
			nodes: [
				webhook('chat-message'),
				enqueueTask({
					queue: queueRef('chat-buffer'),
					taskName: 'agent-run',
					payloadSource: 'defineBelow',
					payload: '={{ $json.body }}',
					options: { debounce: { settings: { key: '={{ $json.body.userId }}', seconds: 3, mode: 'collect' } } },
				}),
				set('Answer', [
					['taskId', '={{ $json.id }}', 'string'],
					['created', '={{ $json.created }}', 'boolean'],
					['debounced', '={{ $json.debounced }}', 'boolean'],
				]),
			],
			connections: chain('Webhook', 'Enqueue Task', 'Answer'),
		};
		const workerId = await h.time('chat: deploy worker + receiver', async () => {
			const id = await s.deploy(worker);
			await s.deploy(receiver);
			await s.liveHandlers('chat-buffer');
			return id;
		});

		// One user types five messages in a little under 2 s (one every 400 ms, each sent once the
		// previous one is answered, so that they arrive in order); a message of another user in
		// between must not join the group.
		const messages = ['hi', 'I ordered a lamp', 'order A-17', 'it arrived broken', 'can you help?'].map((text, seq) => ({ userId: 'user-42', seq, text }));
		const answers: Json[] = [];
		const burstStart = Date.now();
		let lastSentAt = 0;
		await h.time('chat: 5 webhook calls', async () => {
			for (const [i, message] of messages.entries()) {
				const due = burstStart + i * 400;
				if (Date.now() < due) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
				lastSentAt = Date.now();
				const answer = await s.callWebhook('chat-message', message);
				expect(answer.status, JSON.stringify(answer.body)).toBe(200);
				answers.push(answer.body);
				if (i === 1) {
					const other = await s.callWebhook('chat-message', { userId: 'user-7', seq: 0, text: 'hello' });
					expect(other.body).toMatchObject({ created: true, debounced: false });
				}
			}
		});
		const burstMs = Date.now() - burstStart;
		observed.push(`chat: 5 messages (+1 of another user) sent and answered in ${burstMs} ms`);
		expect(burstMs).toBeLessThan(3000);

		// The first message opened the group (201), the other four joined it (200, debounced).
		const taskId = answers[0].taskId;
		expect(answers).toEqual([
			{ taskId, created: true, debounced: false },
			...Array.from({ length: 4 }, () => ({ taskId, created: false, debounced: true })),
		]);

		const done = await h.time('chat: last message → task completed', () =>
			eventually(async () => {
				const t = await task(taskId);
				return ['completed', 'failed'].includes(t.state) ? t : undefined;
			}, 20_000, `the chat task ${taskId} to finish`),
		);
		const expectedPrompt = messages.map((m) => m.text).join(' / ');
		expect(done).toMatchObject({
			state: 'completed',
			name: 'agent-run',
			payload: { items: messages },
			attemptCount: 1,
			result: { user: 'user-42', messages: 5, prompt: expectedPrompt },
		});
		// Due 3 s after the last enqueue, not after the first: each message moved it.
		const waitedMs = Date.parse(done.attempts[0].startedAt) - lastSentAt;
		observed.push(`chat: task started ${waitedMs} ms after the last message was sent (debounce 3000 ms)`);
		expect(waitedMs).toBeGreaterThanOrEqual(3000 - 50);
		expect(waitedMs).toBeLessThan(3000 + 5000);

		// Exactly two tasks in the queue (this user's, the other user's), so no more deliveries can
		// come; and this user's task ran the worker once.
		const all = await eventually(async () => {
			const items = await tasksOf('chat-buffer');
			return items.every((t) => t.state === 'completed') ? items : undefined;
		}, 20_000, 'both chat tasks to complete');
		expect(all.map((t) => t.payload.items.map((m: Json) => m.userId).join()).sort()).toEqual(['user-42,user-42,user-42,user-42,user-42', 'user-7']);
		const executions = await s.finishedExecutions(workerId, 2);
		expect(executions).toHaveLength(2);
		const runsOfUser = executions.filter((e) => nodeOutput(e, 'Task Trigger')[0].task.id === taskId);
		expect(runsOfUser).toHaveLength(1);
		expect(runsOfUser[0].status).toBe('success');
		expect(nodeOutput(runsOfUser[0], 'Task Trigger')).toEqual([{ items: messages, task: expect.objectContaining({ id: taskId, attempt: 1 }) }]);
	}, 120_000);

	it('per-customer limit: keyConcurrency 1, 3 customers × 5 tasks of 300 ms: never two of one customer at once, all customers progress together', async () => {
		const customers = ['acme', 'globex', 'initech'];
		const worker: WorkflowJson = {
			name: 'Customer sync worker (queue: customer-sync)',
			nodes: [
				// The trigger creates the queue with one task at a time per key.
				taskTrigger('customer-sync', { queueSettings: { keyConcurrency: 1 } }),
				node('Call customer API', 'n8n-nodes-base.wait', 1.1, { resume: 'timeInterval', amount: 0.3, unit: 'seconds' }),
				set('Synced', [
					['customer', '={{ $json.customer }}', 'string'],
					['n', '={{ $json.n }}', 'number'],
				]),
			],
			connections: chain('Task Trigger', 'Call customer API', 'Synced'),
		};
		const enqueuer: WorkflowJson = {
			name: 'Customer changes → sync tasks (one at a time per customer)',
			nodes: [
				webhook('customer-changes', { responseData: 'allEntries' }),
				node('Changes', 'n8n-nodes-base.splitOut', 1, { fieldToSplitOut: 'body.changes', options: {} }),
				enqueueTask({
					queue: queueRef('customer-sync'),
					taskName: 'sync-customer',
					payloadSource: 'inputItem',
					options: { concurrencyKey: '={{ $json.customer }}' },
				}),
			],
			connections: chain('Webhook', 'Changes', 'Enqueue Task'),
		};
		const workerId = await h.time('limit: deploy worker + enqueuer', async () => {
			const id = await s.deploy(worker);
			await s.deploy(enqueuer);
			await s.liveHandlers('customer-sync');
			return id;
		});
		expect((await h.engineApi('GET', '/v1/queues/customer-sync')).body).toMatchObject({ keyConcurrency: 1 });

		// Each customer's five changes one after another: a queue served in order without per-key
		// limits would give all five of the first customer to handlers before the next customer.
		const changes = customers.flatMap((customer) => Array.from({ length: 5 }, (_, n) => ({ customer, n })));
		const enqueued = await s.callWebhook('customer-changes', { changes });
		expect(enqueued.status, JSON.stringify(enqueued.body)).toBe(200);
		expect(enqueued.body).toHaveLength(15);
		expect(enqueued.body.map((t: Json) => [t.payload.customer, t.concurrencyKey])).toEqual(changes.map((c) => [c.customer, c.customer]));

		const started = Date.now();
		const done = await h.time('limit: 15 tasks completed', () =>
			eventually(async () => {
				const items = await tasksOf('customer-sync');
				if (items.length !== 15 || items.some((t) => t.state !== 'completed')) return undefined;
				return await Promise.all(items.map((t) => task(t.id)));
			}, 60_000, 'the 15 customer tasks to complete'),
		);
		observed.push(`limit: 15 tasks of 300 ms (3 customers × 5) completed ${Date.now() - started} ms after the enqueue answer`);

		// The engine's view: each attempt from its start until the worker's answer.
		const attempts = new Map<string, Interval[]>(customers.map((c) => [c, []]));
		for (const t of done) {
			for (const a of t.attempts) attempts.get(t.concurrencyKey)!.push({ start: Date.parse(a.startedAt), end: Date.parse(a.startedAt) + a.durationMs });
		}
		// n8n's view: each worker execution from its start to its end.
		const executions = await s.finishedExecutions(workerId, 15);
		expect(executions.map((e) => e.status)).toEqual(Array(15).fill('success'));
		const runs = new Map<string, Interval[]>(customers.map((c) => [c, []]));
		for (const e of executions) runs.get(nodeOutput(e, 'Task Trigger')[0].customer)!.push({ start: Date.parse(e.startedAt), end: Date.parse(e.stoppedAt!) });

		for (const [view, intervals] of [['engine attempts', attempts], ['n8n executions', runs]] as const) {
			for (const customer of customers) {
				const own = intervals.get(customer)!.sort((a, b) => a.start - b.start);
				expect(own, `${view} of ${customer}`).toHaveLength(5);
				const overlapping = own.slice(1).filter((interval, i) => overlaps(own[i], interval)).length;
				expect(overlapping, `${view}: runs of ${customer} that overlap the one before (never two at once)`).toBe(0);
			}
			// Every pair of customers ran side by side at some moment.
			for (const [i, a] of customers.entries()) {
				for (const b of customers.slice(i + 1)) {
					const together = intervals.get(a)!.some((x) => intervals.get(b)!.some((y) => overlaps(x, y)));
					expect(together, `${view}: a run of ${a} overlapping one of ${b}`).toBe(true);
				}
			}
		}
		const all = [...attempts.values()].flat();
		const spanMs = Math.max(...all.map((i) => i.end)) - Math.min(...all.map((i) => i.start));
		const busyMs = all.reduce((sum, i) => sum + i.end - i.start, 0);
		observed.push(`limit: engine attempts span ${spanMs} ms for ${busyMs} ms of attempts (parallelism ${(busyMs / spanMs).toFixed(2)}; 1.00 = one at a time, 3.00 = the three customers fully together)`);
		// The three customers together, not one after the other (which would be ≥ 15 × 300 ms).
		expect(spanMs).toBeLessThan(busyMs / 1.5);
	}, 120_000);
});
