import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_BOSS_VERSION } from '../../engine/src/dispatch/jobSql.js';
import { eventually, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * The engine claims and closes pg-boss jobs from its own statements (engine/src/dispatch/jobSql.ts),
 * written after what pg-boss 12.38.0 runs for `fetch` and `complete`. These tests fail when an
 * upgrade changes that SQL or when pg-boss stops seeing those jobs as it sees its own.
 */

const require = createRequire(join(process.cwd(), 'engine', 'package.json'));
const bossDir = dirname(require.resolve('pg-boss/package.json'));
const squash = (sql: string) => sql.replace(/\s+/g, ' ').trim();

/** The two statements of pg-boss 12.38.0 that jobSql.ts reproduces, as it generates them. */
const FETCH_12_38 = squash(`WITH next AS ( SELECT j.id FROM s.job_common j WHERE j.name = 'q' AND j.state < 'active' AND NOT j.blocked
  AND j.start_after <= s.job_now() AND (j.group_id IS NULL OR j.group_id <> ALL($1::text[])) ORDER BY j.priority desc, j.created_on
  LIMIT 10 FOR UPDATE OF j SKIP LOCKED ) UPDATE s.job_common j SET state = 'active', started_on = s.job_now(), heartbeat_on = s.job_now(),
  retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END FROM next WHERE name = 'q' AND j.id = next.id
  RETURNING j.id, name, data, retry_count as "retryCount", expire_seconds as "expireInSeconds", heartbeat_seconds as "heartbeatSeconds",
  group_id as "groupId", group_tier as "groupTier"`);
const COMPLETE_12_38 = squash(`WITH results AS ( UPDATE s.job_common SET completed_on = s.job_now(), state = 'completed', output = $3::jsonb,
  blocked = blocked, pending_dependencies = pending_dependencies WHERE name = $1 AND id = ANY($2::uuid[]) AND state = 'active' RETURNING id )
  SELECT COUNT(*), COALESCE(array_agg(id), '{}'::uuid[]) AS ids FROM results`);

describe('the pg-boss statements the engine reproduces', () => {
	it('is the pg-boss version jobSql.ts was written against', () => {
		const installed = JSON.parse(readFileSync(join(bossDir, 'package.json'), 'utf8')).version;
		expect(installed).toBe(PG_BOSS_VERSION);
		const pinned = JSON.parse(readFileSync(join(process.cwd(), 'engine', 'package.json'), 'utf8')).dependencies['pg-boss'];
		expect(pinned).toBe(PG_BOSS_VERSION);
	});

	it('generates the same fetch and complete SQL as when jobSql.ts was written', async () => {
		const plans = await import(join(bossDir, 'dist', 'plans.js'));
		const fetch = plans.fetchNextJob({ schema: 's', table: 'job_common', name: 'q', policy: 'standard', limit: 10, includeMetadata: false, ignoreGroups: ['handler:batch'] });
		expect(squash(typeof fetch === 'string' ? fetch : fetch.text)).toBe(FETCH_12_38);
		expect(squash(plans.completeJobs('s', 'job_common', false, false))).toBe(COMPLETE_12_38);
	});
});

describe('jobs claimed and closed by the engine, as pg-boss sees them', () => {
	let te: TestEngine;
	let boss: PgBoss;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	beforeAll(async () => {
		receiver = await startReceiver();
		te = await startTestEngine();
		boss = new PgBoss({ connectionString: testDatabaseUrl(), schema: `${te.schema}_pgboss`, supervise: false, schedule: false, migrate: false });
		await boss.start();
	});
	afterAll(async () => {
		await boss?.stop({ graceful: false, timeout: 2000 });
		await te?.stop();
		await receiver?.close();
	});

	const jobOf = async (taskId: string) =>
		(await te.engine.pool.query<{ jobId: string }>('SELECT job_id AS "jobId" FROM tasks WHERE id = $1', [taskId])).rows[0].jobId;

	it('lives in the shared job table pg-boss reads, active while delivered and completed once settled', async () => {
		expect((await te.api('POST', '/v1/queues', { name: 'jobs' })).status).toBe(201);
		const { rows: tables } = await te.engine.pool.query(`SELECT table_name FROM "${te.schema}_pgboss".queue WHERE name = 'jobs'`);
		expect(tables).toEqual([{ table_name: 'job_common' }]);

		let release!: () => void;
		const held = new Promise<void>((r) => (release = r));
		const slow = await startReceiver(async () => {
			await held;
			return { status: 200, body: { ok: true } };
		});
		try {
			expect((await te.api('POST', '/v1/queues/jobs/handlers', { url: slow.url })).status).toBe(201);
			const task = (await te.api('POST', '/v1/tasks', { queue: 'jobs', name: 'seen-by-pg-boss' })).body;
			const jobId = await jobOf(task.id);
			await eventually(() => slow.requests.length === 1, 5000, 'the delivery');
			const active = await boss.getJobById('jobs', jobId);
			expect(active).toMatchObject({ id: jobId, state: 'active', data: { taskId: task.id } });
			expect(active?.startedOn).toBeInstanceOf(Date);
			// pg-boss's own fetch does not hand out a job the engine holds.
			expect(await boss.fetch('jobs', { batchSize: 10 })).toEqual([]);

			release();
			await eventually(async () => (await te.api('GET', `/v1/tasks/${task.id}`)).body.state === 'completed', 5000, 'the settlement');
			const done = await boss.getJobById('jobs', jobId);
			expect(done).toMatchObject({ id: jobId, state: 'completed' });
			expect(done?.completedOn).toBeInstanceOf(Date);
		} finally {
			release();
			await slow.close();
		}
	});

	it('a retry closes the claimed job and gives the next attempt a new one, due when the policy says', async () => {
		expect((await te.api('POST', '/v1/queues', { name: 'jobs-retry' })).status).toBe(201);
		let calls = 0;
		const flaky = await startReceiver(() => (++calls === 1 ? { status: 500, body: 'no' } : { status: 200, body: {} }));
		try {
			expect((await te.api('POST', '/v1/queues/jobs-retry/handlers', { url: flaky.url })).status).toBe(201);
			const task = (await te.api('POST', '/v1/tasks', { queue: 'jobs-retry', name: 'retried', retry: { limit: 2, delaySeconds: 0, backoff: 'fixed' } })).body;
			const first = await jobOf(task.id);
			await eventually(async () => (await te.api('GET', `/v1/tasks/${task.id}`)).body.state === 'completed', 10_000, 'the retry to complete');
			const second = await jobOf(task.id);
			expect(second).not.toBe(first);
			expect(await boss.getJobById('jobs-retry', first)).toMatchObject({ state: 'completed' });
			expect(await boss.getJobById('jobs-retry', second)).toMatchObject({ state: 'completed' });
		} finally {
			await flaky.close();
		}
	});

	it('claims in pg-boss order: priority first, then age', async () => {
		expect((await te.api('POST', '/v1/queues', { name: 'jobs-order', paused: true, concurrency: 1 })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/jobs-order/handlers', { url: receiver.url })).status).toBe(201);
		const names: string[] = [];
		for (const [name, priority] of [['low-1', -1], ['normal-1', 0], ['high-1', 5], ['normal-2', 0], ['high-2', 5]] as const) {
			names.push(name);
			expect((await te.api('POST', '/v1/tasks', { queue: 'jobs-order', name, priority })).status).toBe(201);
		}
		expect((await te.api('POST', '/v1/queues/jobs-order/resume')).status).toBe(200);
		const order = await eventually(() => {
			const got = receiver.requests.filter((r) => r.json?.queue === 'jobs-order').map((r) => r.json.name);
			return got.length === names.length ? got : undefined;
		}, 10_000, 'all five');
		expect(order).toEqual(['high-1', 'high-2', 'normal-1', 'normal-2', 'low-1']);
	});
});
