import { prepared, type Queryable } from '../db/pool.js';
import { fetchJobsCtes, type JobTable } from '../dispatch/jobSql.js';
import { keyOutlookColumns, RECHECK_SECONDS, windowStart, type KeyOutlook } from '../flowControl/keySql.js';
import type { QueueRow } from '../queues/queueSql.js';
import { nextDueSql, TASK_COLUMNS, type TaskRow } from './taskSql.js';

/**
 * The claim's statements (delivery/claim.ts runs them under the queue's dispatch lock): what it reads
 * first, and the one statement that marks claimed tasks active — or parks them behind their key.
 */

/**
 * What the claim reads first, under the queue's dispatch lock: the queue's deliveries in flight
 * (across engines, this engine's own, how many live engines share the queue), its keys' outlook
 * (woken keys, the next wake, a whole-queue throttle), and from those the claim's `room`.
 */
export type ActiveCounts = { active: number; mine: number; engines: number; room: number } & KeyOutlook;

/** What the claim asks for: up to `wanted` tasks; with `fairShare`, no more than this engine's share of `concurrency`. */
export interface ClaimRoom {
	queue: string;
	engineId: string;
	wanted: number;
	concurrency: number;
	fairShare: boolean;
	/** Heartbeat age after which an engine no longer counts among those sharing the queue. */
	engineDeadAfterSeconds: number;
}

/**
 * `ActiveCounts` as one row, for the parameter references in `p`. `room`: how many the claim may
 * start — the free slots, at most `wanted`, with `fairShare` at most an even split of the
 * concurrency among the live engines.
 */
function countsSql(p: Record<'queue' | 'wanted' | 'engine' | 'deadAfter' | 'concurrency' | 'fairShare', string>): string {
	return `SELECT c.*, GREATEST(0, LEAST(${p.wanted}::int, ${p.concurrency}::int - c.active,
		   CASE WHEN ${p.fairShare}::bool THEN ceil(${p.concurrency}::numeric / GREATEST(1, c.engines))::int - c.mine ELSE ${p.wanted}::int END)) AS room
		 FROM (SELECT count(*)::int AS active, (count(*) FILTER (WHERE engine_id = ${p.engine}))::int AS mine,
		   (SELECT count(*)::int FROM engines WHERE heartbeat_at > now() - make_interval(secs => ${p.deadAfter})) AS engines,
		   ${keyOutlookColumns(p.queue)}
		 FROM tasks WHERE queue = ${p.queue} AND state = 'active') c`;
}

export async function activeCounts(db: Queryable, r: ClaimRoom): Promise<ActiveCounts> {
	const { rows } = await db.query<ActiveCounts>(prepared('claim-active-counts',
		countsSql({ queue: '$1', wanted: '$2', engine: '$3', deadAfter: '$4', concurrency: '$5', fairShare: '$6' }),
		[r.queue, r.wanted, r.engineId, r.engineDeadAfterSeconds, r.concurrency, r.fairShare],
	));
	return rows[0];
}

/**
 * Whether the keys' outlook holds anything back (a throttle, woken keys): the claim must look at
 * keys. `countAndClaim` writes the same rule in SQL (it claims nothing then).
 */
export const keysNeedALook = (c: KeyOutlook) => c.woken > 0 || c.throttledForSeconds !== null || c.keysThrottled;

/**
 * What claiming does to a task ($3: the engine, $4: the lease grace): one more attempt, a lease until
 * the attempt can no longer be running (timeout + grace), and the claiming engine.
 */
const ACTIVATE = `state = 'active', started_at = now(), attempt_count = t.attempt_count + 1, engine_id = $3, deadline_at = NULL, progress = NULL,
		   lease_expires_at = now() + make_interval(secs => t.timeout_seconds + $4)`;

export interface KeyedClaim {
	/** The tasks that start now. */
	tasks: TaskRow[];
	/** Claimed jobs whose task waits behind its key instead (parked: no job until the key wakes). */
	parked: number;
	/** Seconds until the earliest key of the queue wakes by the clock (rate window, throttle); null when none. */
	wakeInSeconds: number | null;
}

type Row = TaskRow & { parkedCount: number; wakeInSeconds: number | null };

/**
 * Marks claimed tasks active — those whose key allows it — in ONE statement. In claim order, a
 * task of a key starts while the key is not throttled, has fewer than `keyConcurrency` active tasks
 * and has permits left in its rate window; the others are parked and their key remembers when to
 * wake (its throttle's end, its window's end, or the next of its tasks to finish). Tasks without a
 * key always start. Only tasks still waiting on exactly that job are taken, so a task cancelled,
 * redriven or debounced meanwhile is left alone (the claim closes its job).
 */
export async function activateClaimed(
	db: Queryable,
	queue: QueueRow,
	claims: readonly { taskId: string; jobId: string }[],
	engineId: string,
	leaseGraceSeconds: number,
): Promise<KeyedClaim> {
	if (claims.length === 0) return { tasks: [], parked: 0, wakeInSeconds: null };
	const { rows } = await db.query<Row>(prepared('claim-activate-keyed',
		`WITH claimed AS (
		   SELECT x.id, x.ord, t.concurrency_key AS key
		   FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS x(id, job_id, ord)
		   -- = ANY: the tasks are found by primary key whatever the planner thinks of the table's size.
		   JOIN tasks t ON t.id = x.id AND t.job_id = x.job_id AND t.state IN ('queued', 'retrying') AND t.id = ANY ($1::uuid[])
		 ), keys AS (
		   SELECT c.key,
		     CASE WHEN $6::int IS NULL THEN 0
		       ELSE (SELECT count(*)::int FROM tasks a WHERE a.queue = $5 AND a.state = 'active' AND a.concurrency_key = c.key) END AS active,
		     COALESCE(k.throttled_until > now(), false) AS throttled, k.throttled_until,
		     ${windowStart('k', '$8')} AS window_start,
		     CASE WHEN ${windowStart('k', '$8')} = now() THEN 0 ELSE k.rate_window_count END AS used
		   FROM (SELECT DISTINCT key FROM claimed WHERE key IS NOT NULL) c
		   LEFT JOIN task_keys k ON k.queue = $5 AND k.key = c.key
		 ), verdict AS (
		   SELECT c.id, c.key, k.throttled, k.throttled_until, k.window_start, k.used,
		     COALESCE($6::int - k.active, 1000000) AS conc_room, COALESCE($7::int - k.used, 1000000) AS rate_room,
		     c.key IS NULL OR (NOT k.throttled AND row_number() OVER (PARTITION BY c.key ORDER BY c.ord)
		       <= LEAST(COALESCE($6::int - k.active, 1000000), COALESCE($7::int - k.used, 1000000))) AS runs
		   FROM claimed c LEFT JOIN keys k ON k.key = c.key
		 ), activated AS (
		   UPDATE tasks t SET ${ACTIVATE}
		   WHERE t.id = ANY (ARRAY(SELECT id FROM verdict WHERE runs))
		   RETURNING ${TASK_COLUMNS}
		 ), parked AS (
		   UPDATE tasks t SET parked = true, job_id = NULL
		   WHERE t.id = ANY (ARRAY(SELECT id FROM verdict WHERE NOT runs))
		   RETURNING t.id
		 ), per_key AS (
		   SELECT key, bool_or(NOT runs) AS any_parked, count(*) FILTER (WHERE runs)::int AS started,
		     bool_or(throttled) AS throttled, min(throttled_until) AS throttled_until,
		     min(window_start) AS window_start, min(used) AS used, min(rate_room) < min(conc_room) AS rate_bound
		   FROM verdict WHERE key IS NOT NULL GROUP BY key
		 ), remembered AS (
		   INSERT INTO task_keys AS k (queue, key, wake_at, rate_window_start, rate_window_count)
		   SELECT $5, p.key,
		     CASE WHEN NOT p.any_parked THEN NULL
		       WHEN p.throttled THEN p.throttled_until
		       WHEN p.rate_bound THEN p.window_start + make_interval(secs => $8)
		       ELSE now() + make_interval(secs => ${RECHECK_SECONDS}) END,
		     CASE WHEN $7::int IS NULL THEN NULL ELSE p.window_start END,
		     CASE WHEN $7::int IS NULL THEN 0 ELSE p.used + p.started END
		   FROM per_key p WHERE p.any_parked OR $7::int IS NOT NULL
		   ON CONFLICT (queue, key) DO UPDATE SET
		     wake_at = CASE WHEN EXCLUDED.wake_at IS NULL THEN k.wake_at ELSE LEAST(k.wake_at, EXCLUDED.wake_at) END,
		     rate_window_start = COALESCE(EXCLUDED.rate_window_start, k.rate_window_start),
		     rate_window_count = CASE WHEN EXCLUDED.rate_window_start IS NULL THEN k.rate_window_count ELSE EXCLUDED.rate_window_count END,
		     updated_at = now()
		   RETURNING k.wake_at
		 )
		 SELECT a.*, (SELECT count(*)::int FROM parked) AS "parkedCount",
		   (SELECT extract(epoch FROM min(wake_at) - now())::float8 FROM remembered) AS "wakeInSeconds"
		 FROM (SELECT 1) one LEFT JOIN activated a ON true`,
		[
			claims.map((c) => c.taskId),
			claims.map((c) => c.jobId),
			engineId,
			leaseGraceSeconds,
			queue.name,
			queue.keyConcurrency,
			queue.keyRateLimitMax,
			queue.keyRateLimitPeriodSeconds ?? 1,
		],
	));
	const first = rows[0];
	return {
		tasks: rows.filter((r) => r.id !== null).map(asTask),
		parked: first?.parkedCount ?? 0,
		wakeInSeconds: first?.wakeInSeconds ?? null,
	};
}

export interface FetchedClaim {
	/** The tasks that start now, in claim order (priority, then age). */
	tasks: TaskRow[];
	/** How many jobs the statement claimed. */
	fetched: number;
	/** Claimed jobs whose task no longer waits on them (cancelled, redriven, deleted): the caller closes them. */
	leftovers: string[];
}

type FetchedRow = TaskRow & { job_priority: number | null; job_created_on: Date | null; fetched: number; leftovers: string[] | null };

/**
 * pg-boss's fetch (dispatch/jobSql.ts) of up to `limit` jobs and the activation of their tasks, as
 * one statement; $1 queue, $3 engine, $4 lease grace, $5 ignored job groups. Only tasks still
 * waiting on exactly that job are taken. `before` adds CTEs ahead of the fetch.
 */
function fetchAndActivateSql(jobs: JobTable, limit: string, before = ''): string {
	return `WITH ${before}${fetchJobsCtes(jobs, { name: '$1', limit, ignoredGroups: '$5::text[]' })}, activated AS (
		   UPDATE tasks t SET ${ACTIVATE}
		   FROM fetched_jobs f
		   WHERE t.id = f.task_id AND t.job_id = f.id AND t.state IN ('queued', 'retrying') AND t.id = ANY (ARRAY(SELECT task_id FROM fetched_jobs))
		   RETURNING ${TASK_COLUMNS}, f.job_priority, f.job_created_on
		 )`;
}

const FETCHED_COLUMNS = `(SELECT count(*)::int FROM fetched_jobs) AS fetched,
		   (SELECT array_agg(f.id) FROM fetched_jobs f WHERE f.id NOT IN (SELECT "jobId" FROM activated)) AS leftovers`;

function asFetched(rows: FetchedRow[]): FetchedClaim {
	const first = rows[0];
	const tasks: TaskRow[] = [];
	for (const row of rows) {
		if (row.id === null) continue;
		// Rest, not `delete`: a task object keeps V8's fast properties on the whole delivery path.
		const { job_priority, job_created_on, fetched, leftovers, ...rest } = row as FetchedRow & Partial<CountColumns>;
		const { active, mine, engines, room, woken, nextWakeInSeconds, throttledForSeconds, keysThrottled, nextDueInSeconds, ...task } = rest;
		tasks.push(task as TaskRow);
	}
	return { tasks, fetched: first?.fetched ?? 0, leftovers: first?.leftovers ?? [] };
}

type CountColumns = ActiveCounts & { nextDueInSeconds: number | null };

const COUNT_COLUMNS = ['active', 'mine', 'engines', 'room', 'woken', 'nextWakeInSeconds', 'throttledForSeconds', 'keysThrottled'] as const;

/**
 * Claims up to `limit` due jobs of a queue where no key can be held back and marks their tasks
 * active, in ONE statement.
 */
export async function fetchAndActivate(
	db: Queryable,
	jobs: JobTable,
	queue: string,
	limit: number,
	ignoredGroups: readonly string[],
	engineId: string,
	leaseGraceSeconds: number,
): Promise<FetchedClaim> {
	const { rows } = await db.query<FetchedRow>(prepared('claim-fetch-activate',
		`${fetchAndActivateSql(jobs, '$2')}
		 SELECT a.*, ${FETCHED_COLUMNS}
		 FROM (SELECT 1) one LEFT JOIN activated a ON true
		 ORDER BY a.job_priority DESC, a.job_created_on`,
		[queue, limit, engineId, leaseGraceSeconds, ignoredGroups],
	));
	return asFetched(rows);
}

/**
 * The whole claim of a queue without per-queue or per-key limits, in ONE statement: the counts,
 * and — when the keys' outlook holds nothing back — the fetch and activation of `room` tasks. When
 * it does hold something back, nothing is claimed and the caller goes on with the counts.
 */
export async function countAndClaim(
	db: Queryable,
	jobs: JobTable,
	room: ClaimRoom,
	ignoredGroups: readonly string[],
	leaseGraceSeconds: number,
): Promise<{ counts: ActiveCounts; claim: FetchedClaim; nextDueInSeconds: number | null }> {
	type Row = FetchedRow & ActiveCounts & { nextDueInSeconds: number | null };
	const counted = countsSql({ queue: '$1', wanted: '$2', engine: '$3', deadAfter: '$6', concurrency: '$7', fairShare: '$8' });
	const { rows } = await db.query<Row>(prepared('claim-count-fetch-activate',
		`${fetchAndActivateSql(jobs, `(SELECT CASE WHEN woken > 0 OR "throttledForSeconds" IS NOT NULL OR "keysThrottled" THEN 0 ELSE room END FROM counts)`,
			`counts AS MATERIALIZED (${counted}), `)}
		 SELECT a.*, ${FETCHED_COLUMNS}, c.*,
		   -- Only when fewer were due than there was room for: when to look again.
		   CASE WHEN (SELECT count(*) FROM fetched_jobs) < c.room THEN (${nextDueSql('$1')}) END AS "nextDueInSeconds"
		 FROM counts c LEFT JOIN activated a ON true
		 ORDER BY a.job_priority DESC, a.job_created_on`,
		[room.queue, room.wanted, room.engineId, leaseGraceSeconds, ignoredGroups, room.engineDeadAfterSeconds, room.concurrency, room.fairShare],
	));
	const first = rows[0];
	const counts = Object.fromEntries(COUNT_COLUMNS.map((k) => [k, first[k]])) as unknown as ActiveCounts;
	return { counts, claim: asFetched(rows), nextDueInSeconds: first.nextDueInSeconds };
}

/** A row of the activation statement without the two columns that describe the whole claim. */
function asTask(row: Row): TaskRow {
	const task: Partial<Row> = { ...row };
	delete task.parkedCount;
	delete task.wakeInSeconds;
	return task as TaskRow;
}
