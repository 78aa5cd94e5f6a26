import { prepared, type Queryable } from '../db/pool.js';
import { dispatchJobColumns, insertJobsCte, type JobTable } from '../dispatch/jobSql.js';
import { EXPIRY_MARGIN_SECONDS } from './dispatchJobs.js';
import { beforePositionSql, createdAtMicrosSql, type CreatedAtPosition } from '../paging/createdAtKeyset.js';
import type { RetryPolicy } from '../delivery/retryPolicy.js';
import type { StoredTaskState, TaskState } from './states.js';
import type { DebounceGroup } from './debounceSql.js';

/** A task row with its visible state (a queued task not yet due reads as `scheduled`, by the database clock). */
export interface TaskRow {
	id: string;
	queue: string;
	name: string;
	state: TaskState;
	payload: unknown;
	priority: number;
	retry: RetryPolicy;
	timeoutSeconds: number;
	url: string | null;
	idempotencyKey: string | null;
	dueAt: Date;
	createdAt: Date;
	startedAt: Date | null;
	finishedAt: Date | null;
	attemptCount: number;
	budgetBase: number;
	jobId: string | null;
	result: unknown;
	lastError: string | null;
	lastStatusCode: number | null;
	lastErrorClass: string | null;
	engineId: string | null;
	/** While an async attempt is open (the handler answered 202): when it ends unless reported on. */
	deadlineAt: Date | null;
	/** What the handler last reported on the attempt under way (heartbeats). */
	progress: TaskProgress | null;
	/** Tasks sharing a key obey the queue's per-key limits (docs/flow-control.md). */
	concurrencyKey: string | null;
	/** The debounce group the task carries (tasks/debounce.ts); `open` while enqueues may still join it. */
	debounce: (DebounceGroup & { open: boolean }) | null;
	/**
	 * `batch`: a batch's completion event, for handlers registered for batch events; `dead_letter`:
	 * the news that another task of the queue became a dead letter, for `dead_letter` handlers.
	 */
	event: TaskEvent;
	schedule: ScheduleRef | null;
	batch: BatchRef | null;
}

export type TaskEvent = 'task' | 'batch' | 'dead_letter';
export interface TaskProgress {
	percent: number | null;
	message: string | null;
	updatedAt: string;
}
/** The schedule occurrence a task was fired for. */
export interface ScheduleRef {
	id: string;
	name: string;
	occurrence: string;
}
/** The batch chunk a task carries. */
export interface BatchRef {
	id: string;
	chunkIndex: number;
	totalChunks: number;
}

export const TASK_COLUMNS = `t.id, t.queue, t.name,
  CASE WHEN t.state = 'queued' AND t.due_at > now() THEN 'scheduled' ELSE t.state END AS state,
  t.payload, t.priority, t.retry, t.timeout_seconds AS "timeoutSeconds", t.url, t.idempotency_key AS "idempotencyKey",
  t.due_at AS "dueAt", t.created_at AS "createdAt", t.started_at AS "startedAt", t.finished_at AS "finishedAt",
  t.attempt_count AS "attemptCount", t.budget_base AS "budgetBase", t.job_id AS "jobId", t.result,
  t.last_error AS "lastError", t.last_status_code AS "lastStatusCode", t.last_error_class AS "lastErrorClass",
  t.engine_id AS "engineId", t.deadline_at AS "deadlineAt", t.progress,
  t.concurrency_key AS "concurrencyKey",
  CASE WHEN t.debounce_key IS NULL THEN NULL ELSE jsonb_build_object('key', t.debounce_key, 'mode', t.debounce_mode,
    'maxWaitSeconds', t.debounce_max_wait_seconds, 'open', t.debounce_open) END AS debounce,
  t.event, t.schedule, t.batch`;

/** A task to insert; `delaySeconds`/`runAt` become `due_at` by the database clock. */
export interface NewTask {
	id: string;
	jobId: string;
	queue: string;
	name: string;
	payload: unknown;
	priority: number;
	retry: RetryPolicy;
	timeoutSeconds: number;
	url: string | null;
	idempotencyKey: string | null;
	delaySeconds: number | null;
	runAt: string | null;
	event?: TaskEvent;
	schedule?: ScheduleRef | null;
	batch?: BatchRef | null;
	/** How long an async attempt (202) may wait for a report; null: the queue's setting, else 3,600 s. */
	asyncTimeoutSeconds?: number | null;
	concurrencyKey?: string | null;
	/** Enqueued behind its key's line of parked tasks (no dispatch job until the key wakes). */
	parked?: boolean;
	/** Due now, with a key its queue limits: joins the key's line when there is one (enqueue.ts). */
	keyLimited?: boolean;
	/** The debounce group the task opens (tasks/debounce.ts). */
	debounce?: DebounceGroup;
}

/**
 * Inserts many tasks in one statement, with the first dispatch job of each that is not parked
 * (dispatch/jobSql.ts: pg-boss's insert, in the same statement). A task whose idempotency key is
 * taken (inside its window) is skipped, not an error: the caller looks the holder up and decides
 * between "the same task" and a conflict. Keys past their window are released first so they can be
 * used again.
 */
export async function insertTasks(
	db: Queryable,
	jobs: JobTable,
	tasks: readonly NewTask[],
	idempotencyWindowSeconds: number,
	/** When given, each queue that got tasks is announced on this channel (delivered at commit). */
	notifyChannel: string | null = null,
): Promise<TaskRow[]> {
	if (tasks.length === 0) return [];
	const keyed = tasks.filter((t) => t.idempotencyKey !== null);
	if (keyed.length > 0) {
		await db.query(
			`UPDATE tasks SET idempotency_key = NULL, idempotency_expires_at = NULL
			 WHERE (queue, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND idempotency_expires_at <= now()`,
			[keyed.map((t) => t.queue), keyed.map((t) => t.idempotencyKey)],
		);
	}
	const { rows } = await db.query<InsertedTask>(prepared('insert-tasks',
		`WITH input AS (
		   SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
		     id uuid, "jobId" uuid, queue text, name text, payload jsonb, priority int, retry jsonb, "timeoutSeconds" int,
		     url text, "idempotencyKey" text, "delaySeconds" float8, "runAt" timestamptz, ord int,
		     event text, schedule jsonb, batch jsonb, "asyncTimeoutSeconds" int,
		     "concurrencyKey" text, parked boolean, debounce jsonb)
		 ), inserted AS (
		   INSERT INTO tasks AS t (id, job_id, queue, name, state, payload, priority, retry, timeout_seconds, url,
		     idempotency_key, idempotency_expires_at, due_at, event, schedule, schedule_id, batch, batch_id, async_timeout_seconds,
		     concurrency_key, parked, debounce_key, debounce_mode, debounce_max_wait_seconds, debounce_open)
		   SELECT id, CASE WHEN parked THEN NULL ELSE "jobId" END, queue, name, 'queued', payload, priority, retry, "timeoutSeconds", url, "idempotencyKey",
		     CASE WHEN "idempotencyKey" IS NULL THEN NULL ELSE now() + make_interval(secs => $2) END,
		     GREATEST(now(), COALESCE("runAt", now() + make_interval(secs => COALESCE("delaySeconds", 0)))),
		     COALESCE(event, 'task'), schedule, (schedule->>'id')::uuid, batch, (batch->>'id')::uuid, "asyncTimeoutSeconds",
		     "concurrencyKey", COALESCE(parked, false),
		     debounce->>'key', debounce->>'mode', (debounce->>'maxWaitSeconds')::float8, debounce IS NOT NULL
		   FROM input ORDER BY ord
		   ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		   RETURNING t.id, t.job_id, t.queue, t.priority, t.due_at, t.created_at, t.timeout_seconds, t.url, t.event
		 ), dispatched AS (
		   SELECT ${dispatchJobColumns('t', EXPIRY_MARGIN_SECONDS)} FROM inserted t WHERE t.job_id IS NOT NULL
		 ), ${insertJobsCte(jobs, 'dispatched')}, announced AS (
		   -- In the same statement, to spare the enqueue a round trip.
		   SELECT pg_notify($3, queue) FROM (SELECT DISTINCT queue FROM inserted) q WHERE $3::text IS NOT NULL
		 )
		 -- Only what the database decided; the rest of each row is what was sent (insertedRow). Times
		 -- as whole epoch milliseconds (a Date holds no more; extract's numeric is exact): a number
		 -- parses faster than a timestamp.
		 SELECT t.id, floor(extract(epoch FROM t.due_at) * 1000)::float8 AS "dueMs", floor(extract(epoch FROM t.created_at) * 1000)::float8 AS "createdMs",
		   t.due_at > now() AS "notDue"
		 FROM inserted t WHERE (SELECT count(*) FROM announced) >= 0`,
		[taskRecords(tasks), idempotencyWindowSeconds, notifyChannel],
	));
	const sent = new Map(tasks.map((t) => [t.id, t]));
	return rows.map((r) => insertedRow(sent.get(r.id) as NewTask, r));
}

/**
 * The insert's `$1`: one JSON record per task with only the fields it sets. jsonb_to_recordset reads
 * a missing key as NULL, and a field left at null or false is what most tasks carry: a plain task's
 * record is 268 bytes instead of 402, and PostgreSQL parses 1,000 of them in about half the CPU
 * (4.2–5.2 ms instead of 9.4–10.4). `payload` is always sent as it is (its nulls are data).
 */
function taskRecords(tasks: readonly NewTask[]): string {
	return JSON.stringify(
		tasks.map((t, ord) => {
			const r: Record<string, unknown> = {
				id: t.id, jobId: t.jobId, queue: t.queue, name: t.name, payload: t.payload, priority: t.priority, retry: t.retry,
				timeoutSeconds: t.timeoutSeconds, ord,
			};
			if (t.url !== null) r.url = t.url;
			if (t.idempotencyKey !== null) r.idempotencyKey = t.idempotencyKey;
			if (t.delaySeconds !== null) r.delaySeconds = t.delaySeconds;
			if (t.runAt !== null) r.runAt = t.runAt;
			if (t.event !== undefined) r.event = t.event;
			if (t.schedule) r.schedule = t.schedule;
			if (t.batch) r.batch = t.batch;
			if (t.asyncTimeoutSeconds != null) r.asyncTimeoutSeconds = t.asyncTimeoutSeconds;
			if (t.concurrencyKey != null) r.concurrencyKey = t.concurrencyKey;
			if (t.parked) r.parked = true;
			if (t.debounce) r.debounce = t.debounce;
			return r;
		}),
	);
}

/** What the insert reads back of a new task: what the database decided. */
interface InsertedTask {
	id: string;
	dueMs: number;
	createdMs: number;
	notDue: boolean;
}

/**
 * A new task's row, as TASK_COLUMNS would read it: the stored columns are what was sent, the
 * columns' defaults, and the times the database set. Reading all ~30 columns back instead cost a
 * bulk enqueue of 1,000 tasks ~10 ms of PostgreSQL and engine time (the row parsing).
 */
function insertedRow(t: NewTask, r: InsertedTask): TaskRow {
	return {
		id: t.id,
		queue: t.queue,
		name: t.name,
		state: r.notDue ? 'scheduled' : 'queued',
		payload: t.payload,
		priority: t.priority,
		retry: t.retry,
		timeoutSeconds: t.timeoutSeconds,
		url: t.url,
		idempotencyKey: t.idempotencyKey,
		dueAt: new Date(r.dueMs),
		createdAt: new Date(r.createdMs),
		startedAt: null,
		finishedAt: null,
		attemptCount: 0,
		budgetBase: 0,
		jobId: t.parked ? null : t.jobId,
		result: null,
		lastError: null,
		lastStatusCode: null,
		lastErrorClass: null,
		engineId: null,
		deadlineAt: null,
		progress: null,
		concurrencyKey: t.concurrencyKey ?? null,
		debounce: t.debounce ? { ...t.debounce, open: true } : null,
		event: t.event ?? 'task',
		schedule: t.schedule ?? null,
		batch: t.batch ?? null,
	};
}

/** The tasks currently holding these (queue, idempotency key) pairs. */
export async function findByIdempotencyKeys(db: Queryable, pairs: readonly { queue: string; key: string }[]): Promise<TaskRow[]> {
	if (pairs.length === 0) return [];
	const { rows } = await db.query<TaskRow>(
		`SELECT ${TASK_COLUMNS} FROM tasks t
		 WHERE (t.queue, t.idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
		[pairs.map((p) => p.queue), pairs.map((p) => p.key)],
	);
	return rows;
}

export async function getTask(db: Queryable, id: string, forUpdate = false): Promise<TaskRow | null> {
	const { rows } = await db.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks t WHERE t.id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [id]);
	return rows[0] ?? null;
}

export interface TaskFilter {
	queue?: string;
	state?: TaskState;
	name?: string;
	/** The task holding this key in `queue` (served by the unique index on (queue, idempotency_key)). */
	idempotencyKey?: string;
	/** Position after which the page starts (newest first). */
	after?: CreatedAtPosition | null;
	limit: number;
}

/**
 * Newest first, keyset-paged on (created_at, id) so pages stay stable while tasks arrive. Each row
 * carries its exact position (`positionMicros`) for the next page's cursor.
 */
export async function listTasks(db: Queryable, f: TaskFilter): Promise<(TaskRow & { positionMicros: string })[]> {
	const stored: StoredTaskState | null = f.state === 'scheduled' ? 'queued' : (f.state ?? null);
	const dueFilter = f.state === 'scheduled' ? 'AND t.due_at > now()' : f.state === 'queued' ? 'AND t.due_at <= now()' : '';
	const { rows } = await db.query<TaskRow & { positionMicros: string }>(
		`SELECT ${TASK_COLUMNS}, ${createdAtMicrosSql('t.created_at')} AS "positionMicros" FROM tasks t
		 WHERE ($1::text IS NULL OR t.queue = $1) AND ($2::text IS NULL OR t.state = $2) AND ($3::text IS NULL OR t.name = $3)
		   AND ($7::text IS NULL OR t.idempotency_key = $7)
		   ${dueFilter}
		   AND ${beforePositionSql('t.created_at', 't.id', '$4', '$5')}
		 ORDER BY t.created_at DESC, t.id DESC
		 LIMIT $6`,
		[f.queue ?? null, stored, f.name ?? null, f.after?.micros ?? null, f.after?.id ?? null, f.limit, f.idempotencyKey ?? null],
	);
	return rows;
}

/** Cancels a task that has not started; returns it, or null when it is not in a cancellable state. */
export async function cancelTask(db: Queryable, id: string): Promise<TaskRow | null> {
	const { rows } = await db.query<TaskRow>(
		`UPDATE tasks t SET state = 'cancelled', finished_at = now(), idempotency_key = t.idempotency_key, parked = false
		 WHERE t.id = $1 AND t.state IN ('queued', 'retrying')
		 RETURNING ${TASK_COLUMNS}`,
		[id],
	);
	return rows[0] ?? null;
}

/**
 * Puts final-but-unsuccessful tasks back in line, due now (or at `notBefore[i]` when later: a batch
 * spacing its re-runs), with a fresh attempt budget (their attempt numbers continue) and a new
 * dispatch job id. Returns the tasks that were moved.
 */
export async function requeueTasks(
	db: Queryable,
	ids: readonly string[],
	jobIds: readonly string[],
	notBefore: readonly (Date | null)[] = [],
): Promise<TaskRow[]> {
	if (ids.length === 0) return [];
	const { rows } = await db.query<TaskRow>(
		`UPDATE tasks t SET state = 'queued', due_at = GREATEST(now(), COALESCE(x.not_before, now())), finished_at = NULL, budget_base = t.attempt_count,
		   job_id = x.job_id, lease_expires_at = NULL, engine_id = NULL
		 FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS x(id, job_id, not_before)
		 WHERE t.id = x.id AND t.state IN ('failed', 'cancelled')
		 RETURNING ${TASK_COLUMNS}`,
		[ids, jobIds, ids.map((_, i) => notBefore[i] ?? null)],
	);
	return rows;
}

/** A schedule's task withdrawn before its occurrence. */
export interface WithdrawnTask {
	id: string;
	queue: string;
	jobId: string | null;
	occurrence: Date;
}

/**
 * Cancels a schedule's tasks that were created ahead of an occurrence still to come (queued, not due
 * yet): pausing, changing or deleting the schedule must hold for that occurrence too. A task
 * already claimed for delivery is left alone.
 */
export async function withdrawScheduleTasksAhead(db: Queryable, scheduleId: string): Promise<WithdrawnTask[]> {
	const { rows } = await db.query<WithdrawnTask>(
		`UPDATE tasks SET state = 'cancelled', finished_at = now(), parked = false
		 WHERE schedule_id = $1 AND state = 'queued' AND due_at > now() AND created_at > now() - interval '1 day'
		 RETURNING id, queue, job_id AS "jobId", (schedule->>'occurrence')::timestamptz AS occurrence`,
		[scheduleId],
	);
	return rows;
}

/** Seconds (database clock) until the next waiting task of the queue becomes due; null when none is ahead. */
/** Seconds until the queue's next task not yet due is due (null: none), as SQL for the queue parameter given. */
export function nextDueSql(queue: string): string {
	return `SELECT extract(epoch FROM min(due_at) - now())::float8 FROM tasks
		 WHERE queue = ${queue} AND state IN ('queued', 'retrying') AND due_at > now()`;
}

export async function secondsUntilNextDue(db: Queryable, queue: string): Promise<number | null> {
	const { rows } = await db.query<{ s: number | null }>(prepared('claim-next-due', `SELECT (${nextDueSql('$1')}) AS s`, [queue]));
	return rows[0]?.s ?? null;
}

/**
 * Active tasks whose delivery is presumed lost: their lease expired, or (when `judgeEngines`) their
 * engine stopped heartbeating. The asking engine is alive by definition: its own tasks are lost only
 * by their lease. An open async attempt belongs to no engine: its lease is its deadline.
 */
export async function findLostDeliveries(
	db: Queryable,
	opts: { engineDeadAfterSeconds: number; limit: number; ownEngineId: string | null; judgeEngines: boolean },
): Promise<TaskRow[]> {
	const { rows } = await db.query<TaskRow>(
		`SELECT ${TASK_COLUMNS} FROM tasks t
		 WHERE t.state = 'active' AND (
		   t.lease_expires_at < now()
		   OR ($3 AND t.deadline_at IS NULL AND t.engine_id IS DISTINCT FROM $4::uuid
		     AND NOT EXISTS (SELECT 1 FROM engines e WHERE e.id = t.engine_id AND e.heartbeat_at > now() - make_interval(secs => $1)))
		 )
		 ORDER BY t.lease_expires_at
		 LIMIT $2
		 FOR UPDATE OF t SKIP LOCKED`,
		[opts.engineDeadAfterSeconds, opts.limit, opts.judgeEngines, opts.ownEngineId],
	);
	return rows;
}
