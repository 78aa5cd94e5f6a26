/**
 * pg-boss's job table, driven from the engine's own statements on the hot path.
 *
 * Claiming and settling a task each touch its pg-boss job. Through pg-boss's API that is a statement
 * of its own every time (and pg-boss plans its fetch anew on every call: the queue's name and the
 * limit are written into its text), so a settlement with its refill took seven round trips. These
 * fragments are the statements pg-boss 12.38.0 runs for `fetch` (a standard queue, no singleton or
 * group limits, `ignoreGroups`) and `complete` (active jobs, no output), written as CTEs the task
 * statements embed: the job and its task row change in one statement.
 *
 * The assumption is pinned: engine/package.json requires exactly PG_BOSS_VERSION, and
 * test/engine/dispatchJobSql.test.ts fails when the installed pg-boss generates different SQL for
 * these two operations, or when pg-boss no longer sees the jobs these statements claim and close
 * the way it sees its own. Everything else (insert, cancel, expiry, retention, queues) still goes
 * through pg-boss's API (dispatch/dispatchQueue.ts).
 */
export const PG_BOSS_VERSION = '12.38.0';

/** pg-boss keeps the jobs of every queue created without `partition` in this table. */
const JOB_TABLE = 'job_common';

const quoted = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** Where a schema's jobs live, and its clock (pg-boss stamps jobs with `job_now()`, not `now()`). */
export interface JobTable {
	/** The qualified job table. */
	table: string;
	/** SQL for pg-boss's clock. */
	now: string;
}

export function jobTable(bossSchema: string): JobTable {
	return { table: `${quoted(bossSchema)}.${JOB_TABLE}`, now: `${quoted(bossSchema)}.job_now()` };
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
		     AND (j.group_id IS NULL OR j.group_id <> ALL (${args.ignoredGroups}))
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
