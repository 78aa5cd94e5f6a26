import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { startEngineProcess, type EngineProcess } from '../e2e/engineProcess.js';
import { dropSchema, freshSchema } from '../helpers/engine.js';
import { API_KEY, countByState, openSchema, REPO_DIR, report, scratchDir, startCountingHandler, waitFor } from './support.js';

/**
 * kill -9 of the engine under load: 2,000 tasks, queue concurrency 50, a handler taking 5–50 ms.
 * A second engine takes over. Nothing may be lost or failed; only tasks in flight at the kill may be
 * delivered twice (at least once, never silently dropped).
 */
const TASKS = 2_000;
const databaseUrl = inject('databaseUrl');
const schema = freshSchema();
let scratch: Awaited<ReturnType<typeof scratchDir>>;
const engines: EngineProcess[] = [];

beforeAll(async () => {
	scratch = await scratchDir('bt-kill-');
});

afterAll(async () => {
	for (const e of engines) await e.stop().catch(() => undefined);
	await dropSchema(schema);
	await scratch.remove();
});

function startEngine(name: string) {
	return startEngineProcess({
		repoDir: REPO_DIR,
		databaseUrl,
		schema,
		apiKey: API_KEY,
		logDir: scratch.dir,
		// The survivor judges the killed engine dead after 5 s of silence (the smallest allowed).
		env: { ENGINE_DEAD_AFTER_SECONDS: '5', LOG_LEVEL: 'warn', DATA_DIR: `${scratch.dir}/${name}` },
	}).then((e) => (engines.push(e), e));
}

test('an engine killed with SIGKILL mid-load loses nothing; only its in-flight tasks are delivered twice', async () => {
	const handler = await startCountingHandler({ seed: 7, minMs: 5, maxMs: 50 });
	const db = await openSchema(databaseUrl, schema);
	try {
		const first = await startEngine('a');
		expect((await first.api('POST', '/v1/queues', { name: 'kill', concurrency: 50, retry: { delaySeconds: 1 } })).status).toBe(201);
		for (let offset = 0; offset < TASKS; offset += 1_000) {
			const tasks = Array.from({ length: 1_000 }, (_, i) => ({ queue: 'kill', name: 'work', url: handler.url, payload: { n: offset + i } }));
			const res = await first.api('POST', '/v1/tasks/bulk', { tasks });
			expect(res.status).toBe(201);
		}

		await waitFor('a quarter of the tasks completed', 120_000, async () => ((await countByState(db)).completed ?? 0) >= TASKS / 4);
		first.process.child.kill('SIGKILL');
		await new Promise<void>((resolve) => first.process.child.once('exit', () => resolve()));
		const atKill = await countByState(db);
		const killedAt = Date.now();

		await startEngine('b');
		const final = await waitFor('every task final', 180_000, async () => {
			const counts = await countByState(db);
			return (counts.completed ?? 0) + (counts.failed ?? 0) === TASKS ? counts : false;
		});
		const recoveredMs = Date.now() - killedAt;
		const { rows: lost } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM attempts WHERE error_class = 'lost'`);

		report('kill -9', {
			tasks: TASKS,
			kills: 1,
			completedAtKill: atKill.completed ?? 0,
			activeAtKill: atKill.active ?? 0,
			completed: final.completed ?? 0,
			failed: final.failed ?? 0,
			delivered: handler.deliveries.size,
			requests: handler.totalRequests(),
			duplicates: handler.duplicates(),
			lostAttempts: lost[0].n,
			recoveredMs,
		});
		expect(final.completed).toBe(TASKS);
		expect(final.failed ?? 0).toBe(0);
		expect(handler.deliveries.size).toBe(TASKS);
		// Delivered twice: only what was in flight (claimed, or its result not yet written) at the kill.
		expect(handler.duplicates()).toBeLessThanOrEqual(atKill.active ?? 0);
	} finally {
		await db.end();
		await handler.close();
	}
});
