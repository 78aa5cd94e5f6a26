import { randomUUID } from 'node:crypto';
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

/** The three statements of pg-boss 12.38.0 that jobSql.ts reproduces, as it generates them. */
const FETCH_12_38 = squash(`WITH next AS ( SELECT j.id FROM s.job_common j WHERE j.name = 'q' AND j.state < 'active' AND NOT j.blocked
  AND j.start_after <= s.job_now() AND (j.group_id IS NULL OR j.group_id <> ALL($1::text[])) ORDER BY j.priority desc, j.created_on
  LIMIT 10 FOR UPDATE OF j SKIP LOCKED ) UPDATE s.job_common j SET state = 'active', started_on = s.job_now(), heartbeat_on = s.job_now(),
  retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END FROM next WHERE name = 'q' AND j.id = next.id
  RETURNING j.id, name, data, retry_count as "retryCount", expire_seconds as "expireInSeconds", heartbeat_seconds as "heartbeatSeconds",
  group_id as "groupId", group_tier as "groupTier"`);
const COMPLETE_12_38 = squash(`WITH results AS ( UPDATE s.job_common SET completed_on = s.job_now(), state = 'completed', output = $3::jsonb,
  blocked = blocked, pending_dependencies = pending_dependencies WHERE name = $1 AND id = ANY($2::uuid[]) AND state = 'active' RETURNING id )
  SELECT COUNT(*), COALESCE(array_agg(id), '{}'::uuid[]) AS ids FROM results`);

const INSERT_12_38 = squash(`INSERT INTO s.job_common ( id, name, data, priority, start_after, created_on, singleton_key, singleton_on, group_id,
  group_tier, expire_seconds, deletion_seconds, keep_until, retry_limit, retry_delay, retry_backoff, retry_delay_max, policy,
  dead_letter, heartbeat_seconds, blocked, blocking, pending_dependencies, trace_context ) SELECT COALESCE(id,
  gen_random_uuid()) as id, 'q' as name, data, COALESCE(priority, 0) as priority, j.start_after, s.job_now() as created_on,
  "singletonKey", CASE WHEN "singletonSeconds" IS NOT NULL THEN 'epoch'::timestamp + '1s'::interval *
  ("singletonSeconds"::float8 * floor(( date_part('epoch', s.job_now()) + COALESCE("singletonOffset",0)::float8) /
  "singletonSeconds"::float8 )) ELSE NULL END as singleton_on, "groupId" as group_id, "groupTier" as group_tier,
  COALESCE("expireInSeconds", q.expire_seconds, 900) as expire_seconds, COALESCE("deleteAfterSeconds", q.deletion_seconds,
  604800) as deletion_seconds, j.start_after + (COALESCE("retentionSeconds", q.retention_seconds, 1209600) * interval '1s') as
  keep_until, COALESCE("retryLimit", q.retry_limit, 2) as retry_limit, COALESCE("retryDelay", q.retry_delay, 0) as retry_delay,
  COALESCE("retryBackoff", q.retry_backoff, false) as retry_backoff, COALESCE("retryDelayMax", q.retry_delay_max) as
  retry_delay_max, q.policy, COALESCE("deadLetter", q.dead_letter) as dead_letter, COALESCE("heartbeatSeconds",
  q.heartbeat_seconds) as heartbeat_seconds, COALESCE(blocked, false) as blocked, COALESCE(blocking, false) as blocking,
  COALESCE("pendingDependencies", 0) as pending_dependencies, "__traceContext" as trace_context FROM ( SELECT *, CASE WHEN
  (right("startAfter", 1) = 'Z' OR "startAfter" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN CAST("startAfter" as timestamp with time
  zone) ELSE s.job_now() + CAST(COALESCE("startAfter",'0') as interval) END as start_after FROM
  json_to_recordset($1::text::json) as x ( id uuid, priority integer, data jsonb, "startAfter" text, "retryLimit" integer,
  "retryDelay" integer, "retryDelayMax" integer, "retryBackoff" boolean, "singletonKey" text, "singletonSeconds" integer,
  "singletonOffset" integer, "groupId" text, "groupTier" text, "expireInSeconds" integer, "deleteAfterSeconds" integer,
  "retentionSeconds" integer, "deadLetter" text, "heartbeatSeconds" integer, blocked boolean, blocking boolean,
  "pendingDependencies" integer, "__traceContext" jsonb ) ) j LEFT JOIN s.queue q ON q.name = 'q' ON CONFLICT DO NOTHING`);

describe('the pg-boss statements the engine reproduces', () => {
	it('is the pg-boss version jobSql.ts was written against', () => {
		const installed = JSON.parse(readFileSync(join(bossDir, 'package.json'), 'utf8')).version;
		expect(installed).toBe(PG_BOSS_VERSION);
		const pinned = JSON.parse(readFileSync(join(process.cwd(), 'engine', 'package.json'), 'utf8')).dependencies['pg-boss'];
		expect(pinned).toBe(PG_BOSS_VERSION);
	});

	it('generates the same insert, fetch and complete SQL as when jobSql.ts was written', async () => {
		const plans = await import(join(bossDir, 'dist', 'plans.js'));
		const fetch = plans.fetchNextJob({ schema: 's', table: 'job_common', name: 'q', policy: 'standard', limit: 10, includeMetadata: false, ignoreGroups: ['handler:batch'] });
		expect(squash(typeof fetch === 'string' ? fetch : fetch.text)).toBe(FETCH_12_38);
		expect(squash(plans.completeJobs('s', 'job_common', false, false))).toBe(COMPLETE_12_38);
		expect(squash(plans.insertJobs('s', { table: 'job_common', name: 'q', returnId: false, notify: false }))).toBe(INSERT_12_38);
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

	it('the job a new task gets is the job pg-boss inserts for the same options, and pg-boss fetches both', async () => {
		expect((await te.api('POST', '/v1/queues', { name: 'jobs-insert', paused: true })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/jobs-insert/handlers', { url: receiver.url })).status).toBe(201);
		const task = (await te.api('POST', '/v1/tasks', { queue: 'jobs-insert', name: 'inserted', priority: 3, timeoutSeconds: 45 })).body;
		const byEngine = await jobOf(task.id);
		// What dispatch/dispatchQueue.ts gives pg-boss's insert for such a task.
		const byBoss = randomUUID();
		await boss.insert('jobs-insert', [
			{ id: byBoss, data: { taskId: task.id }, priority: 3, startAfter: new Date(task.dueAt), expireInSeconds: 45 + 120, retryLimit: 0, group: { id: 'handler:task' } },
		]);
		const { rows } = await te.engine.pool.query(
			`SELECT id, name, data, priority, state, retry_limit, retry_count, retry_delay, retry_backoff, retry_delay_max, expire_seconds,
			   deletion_seconds, keep_until - start_after AS kept_for, singleton_key, singleton_on, group_id, group_tier, policy, dead_letter,
			   heartbeat_seconds, blocked, blocking, pending_dependencies, trace_context, output, date_trunc('milliseconds', start_after) AS start_after
			 FROM "${te.schema}_pgboss".job_common WHERE id = ANY($1::uuid[])`,
			[[byEngine, byBoss]],
		);
		expect(rows).toHaveLength(2);
		const strip = ({ id, ...row }: Record<string, unknown>) => (void id, row);
		const [engine, boss_] = [rows.find((r) => r.id === byEngine), rows.find((r) => r.id === byBoss)];
		expect(strip(engine)).toEqual(strip(boss_));
		expect(engine).toMatchObject({ data: { taskId: task.id }, group_id: 'handler:task', retry_limit: 0, expire_seconds: 165, state: 'created' });
		// pg-boss hands it out like its own. (Not in a set order: the two share a priority, and their
		// creation times can tie; the order test below covers priority and age.)
		const fetched = await boss.fetch('jobs-insert', { batchSize: 10 });
		expect(fetched.map((j) => j.id).sort()).toEqual([byEngine, byBoss].sort());
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
