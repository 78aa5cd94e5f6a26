/**
 * pg-boss's job table, driven from the engine's own statements on the hot path.
 *
 * Enqueuing, claiming and settling a task each touch its pg-boss job. Through pg-boss's API that is
 * a statement of its own every time (and pg-boss plans its insert and fetch anew on every call: the
 * queue's name and the limit are written into their text), so a settlement with its refill took
 * seven round trips. These fragments are the statements pg-boss 12.38.0 runs for `insert` (the
 * options the engine gives its jobs, dispatch/dispatchQueue.ts), `fetch` (a standard queue, no
 * singleton or group limits, `ignoreGroups`) and `complete` (active jobs, no output), written as
 * CTEs the task statements embed: the job and its task row change in one statement.
 *
 * The assumption is pinned: engine/package.json requires exactly PG_BOSS_VERSION, and
 * test/engine/dispatchJobSql.test.ts fails when the installed pg-boss generates different SQL for
 * these operations, or when pg-boss no longer sees the jobs these statements insert, claim and
 * close the way it sees its own. Everything else (the jobs of retries and woken tasks, cancel,
 * expiry, retention, queues) still goes through pg-boss's API (dispatch/dispatchQueue.ts).
 */
export const PG_BOSS_VERSION = '12.38.0';

/** pg-boss keeps the jobs of every queue created without `partition` in this table. */
const JOB_TABLE = 'job_common';

const quoted = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** Where a schema's jobs live, and its clock (pg-boss stamps jobs with `job_now()`, not `now()`). */
export interface JobTable {
	/** The qualified job table. */
	table: string;
	/** The qualified table of pg-boss's queues (their job defaults). */
	queues: string;
	/** SQL for pg-boss's clock. */
	now: string;
}

export function jobTable(bossSchema: string): JobTable {
	return { table: `${quoted(bossSchema)}.${JOB_TABLE}`, queues: `${quoted(bossSchema)}.queue`, now: `${quoted(bossSchema)}.job_now()` };
}

/**
 * CTEs `next_jobs` and `fetched_jobs`: claims up to `limit` due jobs of queue `name`, highest
 * priority first, skipping jobs other transactions hold and jobs of the handler groups in
 * `ignoredGroups` (text[]), and marks them active — pg-boss's fetch. `fetched_jobs` has
 * `id`, `task_id` (the job's task), and `job_priority` and `job_created_on` (the fetch order). Arguments are SQL expressions.
 */
export function fetchJobsCtes(jobs: JobTable, args: { name: string; limit: string; ignoredGroups: string }): string {
	return `next_jobs AS (
		   SELECT j.id
		   FROM ${jobs.table} j
		   WHERE j.name = ${args.name} AND j.state < 'active' AND NOT j.blocked AND j.start_after <= ${jobs.now}
		     -- pg-boss writes (group_id IS NULL OR group_id <> ALL (…)). The same test (no handler group is ''),
		     -- but one the planner can estimate without knowing the array: pg-boss's form, generic, looks
		     -- like it matches no row when every job shares a group (all bound for the queue's handlers),
		     -- so the generic plan scanned and sorted the whole table, and the claim was planned anew
		     -- on every run (1.5 ms, more than it takes to run). This one's generic plan walks job_i11.
		     AND COALESCE(j.group_id, '') <> ALL (${args.ignoredGroups})
		   ORDER BY j.priority DESC, j.created_on
		   LIMIT ${args.limit}
		   FOR UPDATE OF j SKIP LOCKED
		 ), fetched_jobs AS (
		   UPDATE ${jobs.table} j SET state = 'active', started_on = ${jobs.now}, heartbeat_on = ${jobs.now},
		     retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END
		   -- = ANY, not a join: found by primary key whatever the planner guesses of next_jobs' size (its LIMIT may be a subquery).
		   WHERE j.name = ${args.name} AND j.id = ANY (ARRAY(SELECT id FROM next_jobs))
		   RETURNING j.id, (j.data->>'taskId')::uuid AS task_id, j.priority AS job_priority, j.created_on AS job_created_on
		 )`;
}

/**
 * A CTE `completed_jobs`: marks the active jobs of `source` (a relation with columns `queue` and
 * `job_id`) completed — pg-boss's complete. A job no longer active is left alone. Job ids are
 * random UUIDs, so matching ids among the source's queues is matching `(queue, job_id)`.
 */
export function completeJobsCte(jobs: JobTable, source: string): string {
	return `completed_jobs AS (
		   UPDATE ${jobs.table} j SET completed_on = ${jobs.now}, state = 'completed', output = NULL
		   -- = ANY, not a join: a join with the ids as well probed the index once per job and row (quadratic).
		   WHERE j.name = ANY (ARRAY(SELECT DISTINCT queue FROM ${source} s)) AND j.id = ANY (ARRAY(SELECT job_id FROM ${source} s))
		     AND j.state = 'active'
		 )`;
}

/** A job for a queue's handlers carries its handler event as its pg-boss group: `handler:task`. */
export const HANDLER_GROUP_PREFIX = 'handler:';

/**
 * The columns of a task's dispatch job that are the engine's to choose (dispatch/dispatchQueue.ts,
 * `insert`, gives pg-boss the same): as SQL over a task row `t` — its job id, queue, due time and
 * priority; an expiry `expiryMarginSeconds` past the attempt's timeout; and, for a task bound for
 * the queue's handlers, the group of its handler event.
 */
export function dispatchJobColumns(t: string, expiryMarginSeconds: number): string {
	return `${t}.job_id AS job_id, ${t}.queue, ${t}.id AS task_id, ${t}.priority, ${t}.due_at AS start_after,
	  ${t}.timeout_seconds + ${expiryMarginSeconds} AS expire_seconds, CASE WHEN ${t}.url IS NULL THEN '${HANDLER_GROUP_PREFIX}' || ${t}.event END AS group_id`;
}

/**
 * A CTE `inserted_jobs`: inserts a job for each row of `source` (columns of `dispatchJobColumns`) —
 * pg-boss's insert with the options the engine gives: `{ taskId }` as data, no retries of pg-boss's
 * own, no singleton, the rest from the queue's defaults, and an id that is already taken skipped.
 */
export function insertJobsCte(jobs: JobTable, source: string): string {
	return `inserted_jobs AS (
		   INSERT INTO ${jobs.table} (id, name, data, priority, start_after, created_on, singleton_key, singleton_on, group_id, group_tier,
		     expire_seconds, deletion_seconds, keep_until, retry_limit, retry_delay, retry_backoff, retry_delay_max, policy, dead_letter,
		     heartbeat_seconds, blocked, blocking, pending_dependencies, trace_context)
		   SELECT s.job_id, s.queue, jsonb_build_object('taskId', s.task_id), COALESCE(s.priority, 0), s.start_after, ${jobs.now}, NULL, NULL,
		     s.group_id, NULL, COALESCE(s.expire_seconds, q.expire_seconds, ${QUEUE_DEFAULTS.expireSeconds}),
		     COALESCE(q.deletion_seconds, ${QUEUE_DEFAULTS.deletionSeconds}),
		     s.start_after + (COALESCE(q.retention_seconds, ${QUEUE_DEFAULTS.retentionSeconds}) * interval '1s'),
		     0, COALESCE(q.retry_delay, ${QUEUE_DEFAULTS.retryDelay}), COALESCE(q.retry_backoff, false), q.retry_delay_max, q.policy, q.dead_letter,
		     q.heartbeat_seconds, false, false, 0, NULL
		   FROM ${source} s LEFT JOIN ${jobs.queues} q ON q.name = s.queue
		   ON CONFLICT DO NOTHING
		 )`;
}

/** pg-boss 12.38.0's defaults where a queue says nothing (its plans.js, QUEUE_DEFAULTS). */
const QUEUE_DEFAULTS = { expireSeconds: 15 * 60, retentionSeconds: 14 * 24 * 3600, deletionSeconds: 7 * 24 * 3600, retryDelay: 0 };
