import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, testDatabaseUrl, TEST_API_KEY } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

const MAIN = path.resolve(import.meta.dirname, '../../engine/dist/main.js');

/** An engine in its own process, as production runs it (needs `npm run build -w engine`). */
async function spawnEngine(schema: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
	if (!existsSync(MAIN)) throw new Error('engine/dist/main.js is missing: run `npm run build -w engine` (npm test does)');
	const child = spawn(process.execPath, [MAIN, 'start', '--port', '0'], {
		env: { ...process.env, DATABASE_URL: testDatabaseUrl(), DATABASE_SCHEMA: schema, API_KEYS: TEST_API_KEY, LOG_LEVEL: 'warn', ...env },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let out = '';
	child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
	const url = await new Promise<string>((resolve, reject) => {
		child.stdout?.on('data', (d: Buffer) => {
			out += d.toString();
			const m = /listening on (http:\/\/\S+)/.exec(out);
			if (m) resolve(m[1]);
		});
		child.on('exit', (code) => reject(new Error(`engine exited with ${code}: ${out}`)));
	});
	return { child, url };
}

describe('several engines on one database', () => {
	const cleanups: (() => Promise<unknown>)[] = [];
	afterEach(async () => {
		for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
	});
	afterAll(async () => undefined);

	it('holds a queue concurrency limit across two engines, both delivering', async () => {
		const schema = freshSchema();
		const receiver = await startReceiver(() => ({ delayMs: 60 }));
		const a = await startTestEngine({}, { schema, keepSchema: true });
		const b = await startTestEngine({}, { schema, keepSchema: true });
		cleanups.push(() => receiver.close(), () => dropSchema(schema), () => a.stop(), () => b.stop());
		const perEngine = [0, 0];
		a.engine.dispatcher.observe(() => perEngine[0]++);
		b.engine.dispatcher.observe(() => perEngine[1]++);

		await a.api('POST', '/v1/queues', { name: 'shared', concurrency: 4 });
		await a.api('POST', '/v1/queues/shared/handlers', { url: receiver.url });
		await eventually(async () => b.engine.queues && (await b.api('GET', '/v1/queues/shared')).status === 200);
		await a.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 40 }, (_, i) => ({ queue: 'shared', name: `a${i}` })) });
		await b.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 40 }, (_, i) => ({ queue: 'shared', name: `b${i}` })) });
		await eventually(() => receiver.requests.length === 80, 30_000, '80 deliveries');
		expect(receiver.maxInProgress).toBeLessThanOrEqual(4);
		expect(receiver.maxInProgress).toBeGreaterThanOrEqual(2);
		expect(new Set(receiver.requests.map((r) => r.json.id)).size).toBe(80);
		expect(perEngine[0]).toBeGreaterThan(0);
		expect(perEngine[1]).toBeGreaterThan(0);
	});

	// Tasks arriving one at a time, each enqueued (on either engine) the moment the one before reaches
	// the handler: the queue is quiet between them, so completions are written without its dispatch
	// lock (delivery/quietQueues.ts) while the next task is being claimed. Polling is slowed to 10 s,
	// so a wake-up lost between the engines would show as a 10 s stall.
	it('holds a queue concurrency of 2 across two engines for tasks arriving one by one, with no stall', async () => {
		const schema = freshSchema();
		const receiver = await startReceiver((_req, index) => ({ delayMs: (index * 7) % 11 }));
		const a = await startTestEngine({ POLL_INTERVAL_MS: '10000' }, { schema, keepSchema: true });
		const b = await startTestEngine({ POLL_INTERVAL_MS: '10000' }, { schema, keepSchema: true });
		cleanups.push(() => receiver.close(), () => dropSchema(schema), () => a.stop(), () => b.stop());

		// Room for two, one due at a time: each claim drains the queue.
		await a.api('POST', '/v1/queues', { name: 'one-by-one', concurrency: 2 });
		await a.api('POST', '/v1/queues/one-by-one/handlers', { url: receiver.url });
		await eventually(async () => (await b.api('GET', '/v1/queues/one-by-one')).status === 200);
		const began = Date.now();
		const ids: string[] = [];
		for (let i = 0; i < 40; i++) {
			const res = await (i % 2 === 0 ? a : b).api('POST', '/v1/tasks', { queue: 'one-by-one', name: `t${i}` });
			expect(res.status).toBe(201);
			ids.push(res.body.id);
			await eventually(() => receiver.requests.length === i + 1, 5_000, `task ${i} delivered`);
		}
		await eventually(async () => (await Promise.all(ids.map(async (id) => (await a.api('GET', `/v1/tasks/${id}`)).body.state))).every((s) => s === 'completed'), 5_000, 'all completed');
		expect(receiver.maxInProgress).toBeLessThanOrEqual(2);
		expect(receiver.requests.map((r) => r.json.id)).toEqual(ids);
		expect(Date.now() - began).toBeLessThan(10_000);
	});

	it('loses nothing when an engine is killed with SIGKILL mid-load', async () => {
		const schema = freshSchema();
		const seen = new Map<string, number>();
		const receiver = await startReceiver((req) => {
			seen.set(req.json.id, (seen.get(req.json.id) ?? 0) + 1);
			return { delayMs: 150 };
		});
		cleanups.push(() => receiver.close(), () => dropSchema(schema));

		const victim = await spawnEngine(schema, { ENGINE_DEAD_AFTER_SECONDS: '5' });
		cleanups.push(async () => victim.child.kill('SIGKILL'));
		const call = (method: string, url: string, body?: unknown) =>
			fetch(`${victim.url}${url}`, {
				method,
				headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
				body: body === undefined ? undefined : JSON.stringify(body),
			}).then((r) => r.json() as Promise<any>);
		await call('POST', '/v1/queues', { name: 'crash', concurrency: 20 });
		await call('POST', '/v1/queues/crash/handlers', { url: receiver.url });
		const created = await call('POST', '/v1/tasks/bulk', {
			tasks: Array.from({ length: 200 }, (_, i) => ({ queue: 'crash', name: `t${i}`, retry: { delaySeconds: 1 } })),
		});
		const ids: string[] = created.items.map((t: { id: string }) => t.id);
		expect(ids).toHaveLength(200);

		await eventually(() => receiver.requests.length >= 40, 20_000, '40 deliveries before the kill');
		victim.child.kill('SIGKILL');
		await new Promise((resolve) => victim.child.once('exit', resolve));
		const deliveredBeforeKill = receiver.requests.length;
		expect(deliveredBeforeKill).toBeLessThan(200);

		const survivor = await startTestEngine({ ENGINE_DEAD_AFTER_SECONDS: '5' }, { schema, keepSchema: true });
		cleanups.push(() => survivor.stop());
		// The survivor's rescuer finds the dead engine's in-flight tasks once its heartbeat is 5 s old.
		await eventually(
			async () => {
				const res = await survivor.api('GET', '/v1/tasks?queue=crash&state=completed&limit=500');
				return res.body.items.length === 200;
			},
			60_000,
			'all 200 tasks completed',
		);
		for (const id of ids) expect(seen.get(id), id).toBeGreaterThanOrEqual(1);
		const lostAttempts = [];
		for (const id of ids) {
			const t = (await survivor.api('GET', `/v1/tasks/${id}`)).body;
			lostAttempts.push(...t.attempts.filter((a: { errorClass: string }) => a.errorClass === 'lost'));
		}
		// The tasks that were in flight at the kill were charged a lost attempt and delivered again.
		expect(lostAttempts.length).toBeGreaterThan(0);
		expect(lostAttempts.length).toBeLessThanOrEqual(20);
	});
});
