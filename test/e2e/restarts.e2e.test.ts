import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Json } from './engineProcess.js';
import { eventually, PACKAGE_NAME, startHarness, type Harness, type N8nExecution } from './harness.js';
import { nodeOutput, scenarios, type Scenarios, type WorkflowJson } from './scenarioHelpers.js';

/**
 * Issue 10 (items 2 and 3): the ordinary events around a worker must neither lose a task nor fake
 * one as done, nor run one twice. (a) n8n is stopped and started again while tasks keep coming: it
 * refuses connections, then answers `200 n8n is starting up` (which the engine must not take for
 * done: the Task Trigger's handler requires its confirmation marker), then 404 until the workflow
 * is active again. (b) a worker workflow is deactivated, tasks pile up, and it is activated again:
 * the engine delivers the waiting tasks as soon as the trigger has registered its handler, but n8n
 * saves the trigger's secret only once every trigger of the workflow is registered; until then the
 * trigger answers 503 + Retry-After and runs nothing. In both, every task must end completed with
 * exactly one successful n8n execution — save, in (a), a task whose execution n8n saved as
 * successful while answering the engine with a failure as it stopped (see expectExactlyOnce).
 */
describe('e2e restarts: n8n restarted under a task stream, a worker re-activated with tasks waiting', () => {
	let h: Harness;
	let s: Scenarios;
	let credential: { id: string; name: string };
	const observed: string[] = [];

	beforeAll(async () => {
		h = await startHarness();
		s = scenarios(h);
		const name = 'Background Tasks (restarts)';
		credential = { id: await h.engineCredential(name), name };
	});
	afterAll(async () => {
		h?.printTimings();
		if (observed.length > 0) console.log(`e2e observed:\n${observed.map((line) => `  ${line}`).join('\n')}`);
		await h?.stop();
	});

	const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

	/**
	 * Task Trigger → Set: the execution's output names the task it ran for. `slowTrigger`: a second
	 * Task Trigger in the workflow whose registration takes that credential's time.
	 */
	function worker(name: string, queue: string, slowTrigger?: { queue: string; credential: { id: string; name: string } }): WorkflowJson {
		return {
			name,
			nodes: [
				...(slowTrigger === undefined
					? []
					: [
							{
								id: randomUUID(),
								name: 'Slow Task Trigger',
								type: `${PACKAGE_NAME}.taskTrigger`,
								typeVersion: 1,
								position: [0, 200],
								parameters: { queue: { __rl: true, mode: 'name', value: slowTrigger.queue } },
								credentials: { backgroundTasksApi: slowTrigger.credential },
							},
						]),
				{
					id: randomUUID(),
					name: 'Task Trigger',
					type: `${PACKAGE_NAME}.taskTrigger`,
					typeVersion: 1,
					position: [0, 0],
					parameters: { queue: { __rl: true, mode: 'name', value: queue } },
					credentials: { backgroundTasksApi: credential },
				},
				{
					id: randomUUID(),
					name: 'Work',
					type: 'n8n-nodes-base.set',
					typeVersion: 3.4,
					position: [220, 0],
					parameters: {
						assignments: {
							assignments: [
								{ id: randomUUID(), name: 'taskId', value: '={{ $json.task.id }}', type: 'string' },
								{ id: randomUUID(), name: 'n', value: '={{ $json.n }}', type: 'number' },
							],
						},
						options: {},
					},
				},
			],
			connections: { 'Task Trigger': { main: [[{ node: 'Work', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		};
	}

	/** A queue whose retries come every second or so (the default backoff starts at a minute). */
	async function createQueue(name: string) {
		const res = await h.engineApi('POST', '/v1/queues', { name, retry: { limit: 100, delaySeconds: 1, backoff: 'fixed', maxDelaySeconds: 2 } });
		expect(res.status, JSON.stringify(res.body)).toBe(201);
	}

	async function enqueue(queue: string, n: number): Promise<string> {
		const res = await h.engineApi('POST', '/v1/tasks', { queue, name: 'step', payload: { n } });
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body.id;
	}

	/** Every task of `ids` (all in `queue`), with its attempts, once all are final. */
	async function finalTasks(queue: string, ids: string[], timeoutMs: number): Promise<Json[]> {
		await eventually(async () => {
			const { items } = (await h.engineApi('GET', `/v1/tasks?queue=${queue}&limit=100`)).body;
			const states = new Map<string, string>(items.map((t: Json) => [t.id, t.state]));
			return ids.every((id) => ['completed', 'failed', 'cancelled'].includes(states.get(id) ?? '')) || undefined;
		}, timeoutMs, `${ids.length} tasks to be final`);
		return await Promise.all(ids.map(async (id) => (await h.engineApi('GET', `/v1/tasks/${id}`)).body));
	}

	/** The workflow's successful executions per task id, once n8n has finished `count` of them. */
	async function successesPerTask(workflowId: string, count: number): Promise<{ perTask: Map<string, number>; all: N8nExecution[] }> {
		const all = await s.finishedExecutions(workflowId, count, 60_000);
		const perTask = new Map<string, number>();
		for (const execution of all.filter((e) => e.status === 'success')) {
			const id = nodeOutput(execution, 'Work')[0].taskId as string;
			perTask.set(id, (perTask.get(id) ?? 0) + 1);
		}
		return { perTask, all };
	}

	/** How the attempts ended (status or error class) with counts, and what the 5xx answers said. */
	function attemptSummary(tasks: Json[]): string {
		const counts = new Map<string, number>();
		for (const t of tasks) {
			for (const a of t.attempts) {
				const key = a.errorClass ? `${a.errorClass}${a.statusCode ? ` (${a.statusCode})` : ''}` : String(a.statusCode);
				counts.set(key, (counts.get(key) ?? 0) + 1);
			}
		}
		// What 5xx answers said (n8n's own words), once each.
		const said = new Set(tasks.flatMap((t) => t.attempts.filter((a: Json) => a.statusCode >= 500).map((a: Json) => `${a.statusCode} ${String(a.responseSnippet).slice(0, 120)}`)));
		return [...counts].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${key} ×${n}`).join(', ') + [...said].map((text) => `; ${text}`).join('');
	}

	/**
	 * Each task completed by exactly one successful execution. The one exception (`lostAnswers`):
	 * n8n stopping mid-request can save an execution as successful yet answer the engine with a
	 * 500 "There was a problem executing the workflow" or a cut connection (an execution still
	 * `new` when n8n's shutdown drops it from its active list). The engine cannot tell that from a
	 * failure, so it retries: a second execution with a cause. Such a task may run twice only if one
	 * of its attempts did end that way; every other task runs exactly once. (Async completion
	 * reports — the workflow telling the engine itself — are what remove this window.)
	 */
	function expectExactlyOnce(ids: string[], tasks: Json[], perTask: Map<string, number>, lostAnswers = false): string[] {
		expect(tasks.filter((t) => t.state !== 'completed').map((t) => [t.id, t.state, t.lastError])).toEqual([]);
		const answerLost = (t: Json) => t.attempts.some((a: Json) => a.statusCode === 500 || a.errorClass === 'connection');
		const twice = lostAnswers ? tasks.filter((t) => perTask.get(t.id) === 2 && answerLost(t)).map((t) => t.id as string) : [];
		expect(ids.filter((id) => perTask.get(id) !== 1 && !twice.includes(id)).map((id) => [id, perTask.get(id) ?? 0])).toEqual([]);
		// Nothing ran that was not one of these tasks.
		expect([...perTask.keys()].filter((id) => !ids.includes(id))).toEqual([]);
		// What the engine kept is what the execution answered.
		for (const t of tasks) expect(t.result).toMatchObject({ taskId: t.id, n: t.payload.n });
		return twice;
	}

	it('(a) n8n stopped and started again (twice) in the middle of a task stream: every task completed, each by one execution (two only where n8n lost its answer while stopping)', async () => {
		await createQueue('stream');
		const workerId = await h.time('a: deploy stream worker', async () => {
			const id = await s.deploy(worker('Stream worker', 'stream'));
			await s.liveHandlers('stream');
			return id;
		});

		// 6 tasks; a restart while tasks keep coming (one every 600 ms, at most 15); 6 more; a second
		// restart the same way; 6 more: at most 48. Two restarts, because a delivery meets n8n's boot
		// page only if it arrives in the few milliseconds of its migration check (the probe below
		// measures that window).
		const ids: string[] = [];
		const restarts: Array<{ stopMs: number; startMs: number; bootPages: number }> = [];
		const stream = async (count: number, gapMs: number, until: () => boolean = () => false) => {
			for (let i = 0; i < count && !until(); i++) {
				ids.push(await enqueue('stream', ids.length));
				await sleep(gapMs);
			}
		};
		await h.time('a: task stream with two n8n restarts', async () => {
			await stream(6, 250);
			for (let round = 0; round < 2; round++) {
				let done = false;
				const restart = h.n8n.restart(1_000).finally(() => (done = true));
				const bootPages = probeBootPage(h.n8nUrl, () => done);
				await stream(15, 600, () => done);
				restarts.push({ ...(await restart), bootPages: await bootPages });
				await stream(6, 250);
			}
		});

		const tasks = await h.time('a: all tasks final', () => finalTasks('stream', ids, 180_000));
		const { perTask, all } = await successesPerTask(workerId, ids.length);
		const twice = expectExactlyOnce(ids, tasks, perTask, true);
		const unconfirmed = tasks.filter((t) => t.attempts.some((a: Json) => a.errorClass === 'unconfirmed')).length;
		const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
		observed.push(
			`a: ${ids.length} tasks, ${restarts.length} restarts (${restarts.map((r) => `stop ${seconds(r.stopMs)}, 1 s down, boot ${seconds(r.startMs)}, boot page served ${r.bootPages}× to a probe`).join('; ')}); ` +
				`${tasks.filter((t) => t.state === 'completed').length} completed, ${all.filter((e) => e.status === 'success').length} successful executions ` +
				`(${all.length} finished), max ${Math.max(...perTask.values())} per task; ${tasks.filter((t) => t.attemptCount > 1).length} tasks retried, ` +
				`${unconfirmed} met n8n's boot page (retried as unconfirmed); ${twice.length} ran twice after n8n lost its answer while stopping; attempts: ${attemptSummary(tasks)}`,
		);
	}, 420_000);

	it('(b) a worker deactivated, tasks enqueued meanwhile, then re-activated: every task completed, each by exactly one execution', async () => {
		await createQueue('waiting');
		// n8n registers a workflow's triggers in parallel and saves their static data once all are
		// registered. The gap is milliseconds for a lone Task Trigger, so the workflow also holds a
		// second one whose engine answers its registration after 2 s (as a trigger registering
		// with a slow remote service would): deliveries to the first meet that gap every time.
		const slowEngine = await startSlowProxy(h.engineUrl, 2_000);
		const slowName = 'Background Tasks (slow to register)';
		const slowCredential = { id: await h.createCredential('backgroundTasksApi', slowName, { baseUrl: slowEngine.url, apiKey: h.engineApiKey }), name: slowName };
		const workerId = await h.time('b: deploy waiting worker', async () => {
			const id = await s.deploy(worker('Waiting worker', 'waiting', { queue: 'waiting-side', credential: slowCredential }));
			await s.liveHandlers('waiting');
			return id;
		});
		const ids: string[] = [];
		for (let n = 0; n < 5; n++) ids.push(await enqueue('waiting', n));
		await finalTasks('waiting', ids, 60_000);

		let racy = 0;
		for (let round = 1; round <= 2; round++) {
			await h.time(`b: deactivate (round ${round})`, () => s.deactivate(workerId));
			expect((await h.engineApi('GET', '/v1/queues/waiting/handlers')).body.items).toEqual([]);
			const waiting: string[] = [];
			for (let n = 0; n < 15; n++) waiting.push(await enqueue('waiting', ids.length + n));
			ids.push(...waiting);
			// No handler: they wait, untouched.
			await sleep(500);
			for (const id of waiting) expect((await h.engineApi('GET', `/v1/tasks/${id}`)).body).toMatchObject({ state: 'queued', attemptCount: 0 });

			await h.time(`b: re-activate with 15 tasks waiting (round ${round})`, async () => {
				await s.activate(workerId);
				await finalTasks('waiting', waiting, 60_000);
			});
			const tasks = await finalTasks('waiting', waiting, 1_000);
			racy += tasks.filter((t) => t.attempts.some((a: Json) => a.statusCode === 503)).length;
			// Before the fix the trigger answered 401 here, which dead-letters at once.
			expect(tasks.flatMap((t) => t.attempts).filter((a: Json) => a.statusCode === 401)).toEqual([]);
		}

		await slowEngine.close();
		const tasks = await finalTasks('waiting', ids, 1_000);
		const { perTask, all } = await successesPerTask(workerId, ids.length);
		observed.push(
			`b: ${ids.length} tasks (5 live, 2 × 15 waiting over a re-activation); ${tasks.filter((t) => t.state === 'completed').length} completed, ` +
				`${all.filter((e) => e.status === 'success').length} successful executions (${all.length} finished); ` +
				`${racy} of 30 waiting tasks met the trigger before n8n had saved its secret (503, Retry-After: 1); attempts: ${attemptSummary(tasks)}`,
		);
		expectExactlyOnce(ids, tasks, perTask);
		// The gap was really there: before the fix these deliveries were 401s, i.e. dead letters.
		expect(racy).toBeGreaterThan(0);
	}, 300_000);
});

/**
 * Counts how often n8n answers its boot page (`200 n8n is starting up. Please wait`) to a POST on
 * a webhook path, polling every 10 ms until `stopped()`: the window a delivery must not be fooled in.
 */
async function probeBootPage(n8nUrl: string, stopped: () => boolean): Promise<number> {
	let bootPages = 0;
	while (!stopped()) {
		try {
			const res = await fetch(`${n8nUrl}/webhook/boot-probe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
			if (res.status === 200 && (await res.text()) === 'n8n is starting up. Please wait') bootPages += 1;
		} catch {
			// not listening: stopped or not yet started
		}
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
	return bootPages;
}

/**
 * A loopback stand-in for a slow engine: forwards every request to `target`, answering handler
 * registrations (`POST …/handlers`) only after `delayMs`.
 */
async function startSlowProxy(target: string, delayMs: number) {
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			void (async () => {
				if (req.method === 'POST' && /\/handlers$/.test(req.url ?? '')) await new Promise((resolve) => setTimeout(resolve, delayMs));
				const body = Buffer.concat(chunks);
				const forwarded = await fetch(`${target}${req.url}`, {
					method: req.method,
					headers: Object.fromEntries(['authorization', 'content-type'].filter((name) => req.headers[name] !== undefined).map((name) => [name, String(req.headers[name])])),
					body: body.length > 0 ? body : undefined,
				});
				const answer = Buffer.from(await forwarded.arrayBuffer());
				res.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' }).end(answer);
			})().catch((error: unknown) => res.writeHead(502).end(String(error)));
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
