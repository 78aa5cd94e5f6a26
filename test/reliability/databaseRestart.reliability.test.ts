import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { controlEmbeddedCluster } from '../../engine/src/db/embeddedPostgres.js';
import { silentLogger } from '../../engine/src/log.js';
import { startEngineProcess, type EngineProcess } from '../e2e/engineProcess.js';
import { freePorts } from '../e2e/processes.js';
import { API_KEY, countByState, openSchema, REPO_DIR, report, scratchDir, startCountingHandler, waitFor } from './support.js';

/**
 * The engine's own embedded PostgreSQL is stopped (fast shutdown: every connection is terminated)
 * for 5 s while 1,500 tasks are being delivered, then started again. The engine must survive, say
 * it is not ready meanwhile, resume by itself, lose nothing and throw no handler's answer away:
 * a result that could not be written during the outage is written when the database is back, so
 * no task is delivered twice.
 *
 * Only the cluster this test's engine created (in the test's own DATA_DIR) is stopped, by its folder.
 */
const TASKS = 1_500;
const OUTAGE_MS = 5_000;
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let engine: EngineProcess | undefined;

beforeAll(async () => {
	scratch = await scratchDir('bt-pgrestart-');
});

afterAll(async () => {
	// The engine is the last one using its embedded cluster: stopping it stops the cluster too.
	await engine?.stop();
	await scratch.remove();
});

test('the engine survives its database restarting under load, loses nothing and writes every result once', async () => {
	const [pgPort] = await freePorts(1);
	const dataDir = path.join(scratch.dir, 'engine-data');
	engine = await startEngineProcess({
		repoDir: REPO_DIR,
		databaseUrl: '', // none: the engine starts its embedded PostgreSQL, as a new user's does
		schema: 'background_tasks',
		apiKey: API_KEY,
		logDir: scratch.dir,
		env: { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' },
	});
	const clusterDir = path.join(dataDir, 'pg');
	const password = (await readFile(path.join(dataDir, 'pg-password'), 'utf8')).trim();
	const databaseUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/postgres`;
	const handler = await startCountingHandler({ seed: 11, minMs: 5, maxMs: 50 });
	let db = await openSchema(databaseUrl, 'background_tasks');
	const ready = async () => (await fetch(`${engine!.url}/v1/health/ready`)).status;
	try {
		expect((await engine.api('POST', '/v1/queues', { name: 'pg', concurrency: 50, retry: { delaySeconds: 1 } })).status).toBe(201);
		for (let offset = 0; offset < TASKS; offset += 500) {
			const tasks = Array.from({ length: 500 }, (_, i) => ({ queue: 'pg', name: 'work', url: handler.url, payload: { n: offset + i } }));
			expect((await engine.api('POST', '/v1/tasks/bulk', { tasks })).status).toBe(201);
		}
		await waitFor('some tasks completed', 60_000, async () => ((await countByState(db)).completed ?? 0) >= 200);

		await db.end();
		const stoppedAt = Date.now();
		await controlEmbeddedCluster(clusterDir, 'stop', { port: pgPort, log: silentLogger() });
		const deliveredBeforeOutage = handler.totalRequests();
		const notReady = await waitFor('readiness to say not ready', 5_000, async () => ((await ready()) === 503 ? 503 : false));
		// The API says so too, in its error shape, and writes nothing (a client may simply retry).
		const duringOutage = await engine.api('POST', '/v1/tasks', { queue: 'pg', name: 'during-outage', url: handler.url });
		expect(duringOutage.status).toBe(503);
		expect(duringOutage.body.error.code).toBe('database_unavailable');
		await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - stoppedAt)));
		const aliveAfterOutage = engine.process.child.exitCode === null && engine.process.child.signalCode === null;
		expect(aliveAfterOutage).toBe(true);
		await controlEmbeddedCluster(clusterDir, 'start', { port: pgPort, log: silentLogger() });
		const restartedAt = Date.now();
		await waitFor('readiness to say ready again', 15_000, async () => (await ready()) === 200);
		const readyAfterMs = Date.now() - restartedAt;

		db = await openSchema(databaseUrl, 'background_tasks');
		const final = await waitFor('every task final', 120_000, async () => {
			const counts = await countByState(db);
			return (counts.completed ?? 0) + (counts.failed ?? 0) === TASKS ? counts : false;
		});
		const drainedAfterMs = Date.now() - restartedAt;
		const { rows: wrongResults } = await db.query<{ n: number }>(
			`SELECT count(*)::int AS n FROM tasks WHERE state = 'completed' AND result->>'handled' IS DISTINCT FROM id::text`,
		);
		const { rows: lost } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM attempts WHERE error_class = 'lost'`);

		report('database restart', {
			tasks: TASKS,
			outageMs: OUTAGE_MS,
			restarts: 1,
			deliveredBeforeOutage,
			readiness: `${notReady} during, 200 after ${readyAfterMs} ms`,
			drainedAfterMs,
			completed: final.completed ?? 0,
			failed: final.failed ?? 0,
			delivered: handler.deliveries.size,
			requests: handler.totalRequests(),
			duplicates: handler.duplicates(),
			lostAttempts: lost[0].n,
			resultsMissing: wrongResults[0].n,
		});
		expect(engine.process.child.exitCode).toBeNull();
		expect(final.completed).toBe(TASKS);
		expect(final.failed ?? 0).toBe(0);
		expect(handler.deliveries.size).toBe(TASKS);
		// Every answer the handler gave was kept: none delivered again, every result stored.
		expect(handler.duplicates()).toBe(0);
		expect(wrongResults[0].n).toBe(0);
	} finally {
		await db.end().catch(() => undefined);
		await handler.close();
	}
});
