import type { Queryable } from '../db/pool.js';

/**
 * The SQL behind queue health (README, "Queue health and metrics"). Every statement takes a list of queues and answers one
 * row per queue, each figure read by its own LATERAL subquery over an index range of that queue, so
 * the cost follows what a queue has in flight and in the window, not the size of the tables
 * (bench/health1m.mjs). Times are the database clock's. The big statements are named (prepared),
 * so each connection parses them once.
 */

/** Figures read from `tasks` and `queues`. */
export interface TaskFigures {
	queue: string;
	paused: boolean;
	scheduled: number;
	queued: number;
	retrying: number;
	active: number;
	/** Completed / failed within the window. */
	completed: number;
	failed: number;
	cancelled: number;
	/** Every `failed` task, whenever it failed. */
	deadLetters: number;
	/** Seconds the longest-waiting due task (queued or retrying, due_at <= now) has waited; 0 when none. */
	oldestQueuedAgeSeconds: number;
	/** Due tasks that wait for one of the queue's own handlers (no explicit url, task event). */
	dueForHandlers: number;
	stuckCount: number;
	/** The oldest stuck tasks first, at most 100. */
	stuckIds: string[];
	/** Attempts the handler answered with 202 and has not reported on yet. */
	asyncOpen: number;
	completedLast5m: number;
	completedLast60m: number;
}

export interface FigureWindow {
	windowSeconds: number;
	/**
	 * An active task is stuck once `started_at + timeout_seconds + grace` has passed; an open async
	 * attempt once its deadline passed more than 30 s ago (the rescuer should have ended it by then).
	 */
	stuckGraceSeconds: number;
}

/**
 * The instants every figure compares with, computed once per statement (not once per row): `now`,
 * the window's start, five minutes and an hour ago. $2 is the window in seconds.
 */
const BOUNDS = `(SELECT now() AS now, now() - make_interval(secs => $2) AS since, now() - interval '5 minutes' AS m5,
  now() - interval '1 hour' AS h1, now() - make_interval(secs => GREATEST($2, 3600)) AS earliest) b`;

/**
 * Waiting tasks of queue `q`, in two ranges of the covering `tasks_waiting_due` index: those due
 * later (scheduled, or retrying later) and those due now (queued or retrying, waiting for a slot or
 * a handler), with the oldest due time. Two plain ranges cost less per row than one range with
 * every figure filtered out of it.
 */
const WAITING = `LATERAL (
  SELECT count(*) FILTER (WHERE t.state = 'queued')::int AS scheduled, count(*) FILTER (WHERE t.state = 'retrying')::int AS retrying
  FROM tasks t WHERE t.queue = q.name AND t.state IN ('queued', 'retrying') AND t.due_at > b.now
) wl
CROSS JOIN LATERAL (
  SELECT count(*) FILTER (WHERE t.state = 'queued')::int AS queued, count(*) FILTER (WHERE t.state = 'retrying')::int AS retrying,
    count(*) FILTER (WHERE t.url IS NULL AND t.event = 'task')::int AS due_for_handlers, min(t.due_at) AS oldest_due
  FROM tasks t WHERE t.queue = q.name AND t.state IN ('queued', 'retrying') AND t.due_at <= b.now
) wd`;

/** Active tasks of queue `q` (open async attempts among them), and those stuck (see FigureWindow), oldest first. */
const ACTIVE = `LATERAL (
  SELECT count(*)::int AS active, count(*) FILTER (WHERE s.async)::int AS async_open, count(*) FILTER (WHERE s.stuck)::int AS stuck,
    (array_agg(s.id ORDER BY s.started_at, s.id) FILTER (WHERE s.stuck))[1:100]::text[] AS stuck_ids
  FROM (
    SELECT t.id, t.started_at, t.deadline_at IS NOT NULL AS async,
      CASE WHEN t.deadline_at IS NOT NULL THEN t.deadline_at + interval '30 seconds' < b.now
        ELSE t.started_at + make_interval(secs => t.timeout_seconds + $3) < b.now END AS stuck
    FROM tasks t WHERE t.queue = q.name AND t.state = 'active'
  ) s
) a`;

/** Dead letters of queue `q`, and those that failed within the window. */
const FAILED = `LATERAL (
  SELECT count(*)::int AS dead_letters, count(*) FILTER (WHERE t.finished_at > b.since)::int AS failed
  FROM tasks t WHERE t.queue = q.name AND t.state = 'failed'
) f`;

/** What a metrics scrape shows of every queue: its depth by state, dead letters, oldest wait, stuck. */
export interface QueueDepthFigures {
	queue: string;
	scheduled: number;
	queued: number;
	retrying: number;
	active: number;
	deadLetters: number;
	oldestQueuedAgeSeconds: number;
	stuckCount: number;
	asyncOpen: number;
	/** Queued tasks parked behind their concurrency key (docs/flow-control.md). */
	parked: number;
	/** Keys a handler's 429/503 holds back now (the whole queue counts as one). */
	throttledKeys: number;
}

/** The depth figures alone (no windowed counts of finished tasks), for every queue in `queues`. */
export async function selectQueueDepths(db: Queryable, queues: readonly string[], stuckGraceSeconds: number): Promise<QueueDepthFigures[]> {
	if (queues.length === 0) return [];
	const { rows } = await db.query<QueueDepthFigures>({
		name: 'health-queue-depths',
		text: `SELECT q.name AS queue, wl.scheduled, wd.queued, wl.retrying + wd.retrying AS retrying, a.active, f.dead_letters AS "deadLetters",
		   COALESCE(extract(epoch FROM b.now - wd.oldest_due)::float8, 0) AS "oldestQueuedAgeSeconds", a.stuck AS "stuckCount", a.async_open AS "asyncOpen",
		   (SELECT count(*)::int FROM tasks p WHERE p.queue = q.name AND p.parked) AS parked,
		   (SELECT count(*)::int FROM task_keys k WHERE k.queue = q.name AND k.throttled_until > now())
		     + (q.throttled_until IS NOT NULL AND q.throttled_until > now())::int AS "throttledKeys"
		 FROM ${BOUNDS}
		 CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS n(name, ord)
		 JOIN queues q ON q.name = n.name
		 CROSS JOIN ${WAITING} CROSS JOIN ${ACTIVE} CROSS JOIN ${FAILED}
		 ORDER BY n.ord`,
		values: [queues, 3600, stuckGraceSeconds],
	});
	return rows;
}

export async function selectTaskFigures(db: Queryable, queues: readonly string[], w: FigureWindow): Promise<TaskFigures[]> {
	if (queues.length === 0) return [];
	const { rows } = await db.query<TaskFigures>({
		name: 'health-task-figures',
		text: `SELECT q.name AS queue, q.paused,
		   wl.scheduled, wd.queued, wl.retrying + wd.retrying AS retrying, a.active, c.completed, f.failed, x.cancelled, f.dead_letters AS "deadLetters",
		   COALESCE(extract(epoch FROM b.now - wd.oldest_due)::float8, 0) AS "oldestQueuedAgeSeconds",
		   wd.due_for_handlers AS "dueForHandlers", a.stuck AS "stuckCount", COALESCE(a.stuck_ids, '{}') AS "stuckIds", a.async_open AS "asyncOpen",
		   c.last5m AS "completedLast5m", c.last60m AS "completedLast60m"
		 FROM ${BOUNDS}
		 CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS n(name, ord)
		 JOIN queues q ON q.name = n.name
		 CROSS JOIN ${WAITING} CROSS JOIN ${ACTIVE}
		 CROSS JOIN LATERAL (
		   SELECT count(*) FILTER (WHERE t.finished_at > b.since)::int AS completed,
		     count(*) FILTER (WHERE t.finished_at > b.m5)::int AS last5m,
		     count(*) FILTER (WHERE t.finished_at > b.h1)::int AS last60m
		   FROM tasks t WHERE t.queue = q.name AND t.state = 'completed' AND t.finished_at > b.earliest
		 ) c
		 CROSS JOIN ${FAILED}
		 CROSS JOIN LATERAL (SELECT count(*)::int AS cancelled FROM tasks t WHERE t.queue = q.name AND t.state = 'cancelled') x
		 ORDER BY n.ord`,
		values: [queues, w.windowSeconds, w.stuckGraceSeconds],
	});
	return rows;
}

/** Figures read from `attempts` (each attempt records its queue and the due time it started against). */
export interface AttemptFigures {
	queue: string;
	/** Attempts started in the last hour, and those that did not deliver (attempts given back at shutdown are neither). */
	attemptsLastHour: number;
	failuresLastHour: number;
	/** Deliveries found lost (engine died, lease ran out) and settled by the rescuer, within the window. */
	recovered: number;
	/** Attempts sent to one of the queue's handlers within the window, and how many of them delivered. */
	handlerAttempts: number;
	handlerDelivered: number;
	/** [p50, p95, p99] over the latest `sampleLimit` attempts of the window; null when there were none. */
	durationMs: number[] | null;
	latenessMs: number[] | null;
	/** Async attempts that ended at their deadline without a report, in the last hour. */
	missedDeadlinesLastHour: number;
}

export async function selectAttemptFigures(
	db: Queryable,
	queues: readonly string[],
	opts: { windowSeconds: number; sampleLimit: number },
): Promise<AttemptFigures[]> {
	if (queues.length === 0) return [];
	const given = `a.error_class IS DISTINCT FROM 'aborted'`;
	const { rows } = await db.query<AttemptFigures>({
		name: 'health-attempt-figures',
		text: `SELECT n.name AS queue, s.attempts_hour AS "attemptsLastHour", s.failures_hour AS "failuresLastHour", s.recovered,
		   s.handler_attempts AS "handlerAttempts", s.handler_delivered AS "handlerDelivered",
		   p.duration AS "durationMs", p.lateness AS "latenessMs", m.missed AS "missedDeadlinesLastHour"
		 FROM ${BOUNDS}
		 CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS n(name, ord)
		 CROSS JOIN LATERAL (
		   SELECT count(*) FILTER (WHERE a.started_at > b.h1 AND ${given})::int AS attempts_hour,
		     count(*) FILTER (WHERE a.started_at > b.h1 AND a.outcome <> 'delivered' AND ${given})::int AS failures_hour,
		     count(*) FILTER (WHERE a.started_at > b.since AND a.error_class = 'lost')::int AS recovered,
		     count(*) FILTER (WHERE a.started_at > b.since AND a.handler_id IS NOT NULL AND ${given})::int AS handler_attempts,
		     count(*) FILTER (WHERE a.started_at > b.since AND a.handler_id IS NOT NULL AND a.outcome = 'delivered')::int AS handler_delivered
		   FROM attempts a WHERE a.queue = n.name AND a.started_at > b.earliest
		 ) s
		 CROSS JOIN LATERAL (
		   SELECT percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.duration_ms)::float8[] AS duration,
		     percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.lateness)::float8[] AS lateness
		   FROM (
		     SELECT a.duration_ms, extract(epoch FROM a.started_at - a.due_at)::float8 * 1000 AS lateness
		     FROM attempts a WHERE a.queue = n.name AND a.started_at > b.since AND ${given}
		     ORDER BY a.started_at DESC LIMIT $3
		   ) r
		 ) p
		 CROSS JOIN LATERAL (
		   -- An async attempt may have started up to a day before its deadline (asyncTimeoutSeconds ≤ 86,400).
		   SELECT count(*)::int AS missed FROM attempts a
		   WHERE a.queue = n.name AND a.error_class = 'timeout' AND a.status_code = 202 AND a.started_at > b.now - interval '25 hours'
		     AND a.started_at + make_interval(secs => COALESCE(a.duration_ms, 0) / 1000.0) > b.h1
		 ) m
		 ORDER BY n.ord`,
		values: [queues, opts.windowSeconds, opts.sampleLimit],
	});
	// percentile_disc over no rows (or only nulls) gives an array of nulls.
	for (const r of rows) {
		if (r.durationMs?.[0] == null) r.durationMs = null;
		if (r.latenessMs?.[0] == null) r.latenessMs = null;
	}
	return rows;
}

export interface HandlerFigures {
	queue: string;
	/**
	 * Handlers that receive the queue's task deliveries, chosen as the dispatcher chooses them
	 * (queues/queueCatalog.ts handlersFor): its production handlers for task events, or its
	 * test-mode ones while it has no production handler.
	 */
	count: number;
	healthy: number;
}

export async function selectHandlerFigures(db: Queryable, queues: readonly string[]): Promise<HandlerFigures[]> {
	if (queues.length === 0) return [];
	const { rows } = await db.query<HandlerFigures>(
		`SELECT queue,
		   CASE WHEN bool_or(mode = 'production') THEN count(*) FILTER (WHERE mode = 'production') ELSE count(*) END::int AS count,
		   CASE WHEN bool_or(mode = 'production') THEN count(*) FILTER (WHERE mode = 'production' AND healthy)
		     ELSE count(*) FILTER (WHERE healthy) END::int AS healthy
		 FROM handlers WHERE queue = ANY ($1::text[]) AND 'task' = ANY (events)
		 GROUP BY queue`,
		[queues],
	);
	return rows;
}

export async function listQueueNames(db: Queryable): Promise<string[]> {
	const { rows } = await db.query<{ name: string }>('SELECT name FROM queues ORDER BY name');
	return rows.map((r) => r.name);
}

export interface TableSize {
	name: string;
	/** Live rows as the statistics collector last counted them: an estimate, never a table scan. */
	rows: number;
	/** Table, indexes and TOAST, on disk. */
	bytes: number;
}

/**
 * Sizes of the engine's tables and pg-boss's (named `pgboss.<table>`); partitions are added up under
 * their root table. Largest first.
 */
export async function selectTableSizes(db: Queryable, schema: string, dispatchSchema: string): Promise<TableSize[]> {
	const { rows } = await db.query<TableSize>(
		`SELECT CASE WHEN rn.nspname = $2 THEN 'pgboss.' ELSE '' END || r.relname AS name,
		   sum(COALESCE(s.n_live_tup, 0))::float8 AS rows, sum(pg_total_relation_size(c.oid))::float8 AS bytes
		 FROM pg_class c
		 JOIN pg_namespace n ON n.oid = c.relnamespace
		 JOIN pg_class r ON r.oid = COALESCE(pg_partition_root(c.oid), c.oid)
		 JOIN pg_namespace rn ON rn.oid = r.relnamespace
		 LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
		 WHERE n.nspname IN ($1, $2) AND c.relkind = 'r'
		 GROUP BY rn.nspname, r.relname
		 ORDER BY bytes DESC, name`,
		[schema, dispatchSchema],
	);
	return rows;
}
