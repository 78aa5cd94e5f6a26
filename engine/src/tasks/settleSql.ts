import { prepared, type Queryable } from '../db/pool.js';
import type { HandlerEvent } from '../dispatch/dispatchQueue.js';
import { completeJobsCte, type JobTable } from '../dispatch/jobSql.js';
import type { NewAttempt } from './attemptSql.js';

/** One task's transition as settlement decided it (delivery/settlement.ts). */
export interface SettledTask {
	id: string;
	/** The attempt number the result belongs to: the claim token. */
	attempt: number;
	state: 'completed' | 'retrying' | 'failed';
	result: unknown;
	delaySeconds: number | null;
	budgetBase: number;
	/** The dispatch job of the next attempt (retrying), else null. */
	jobId: string | null;
	/** The dispatch job the attempt was claimed with: closed in the same statement. */
	claimedJobId: string | null;
	lastError: string | null;
	lastStatusCode: number | null;
	lastErrorClass: string | null;
	/**
	 * The handler asked to be left alone (429/503 with Retry-After) for this long: the task's key —
	 * or its whole queue when it has none — is throttled until then (docs/flow-control.md).
	 */
	throttleSeconds: number | null;
}

/** A task as the statement left it. */
export interface SettledRow {
	id: string;
	queue: string;
	state: 'completed' | 'retrying' | 'failed';
	dueAt: Date;
	priority: number;
	timeoutSeconds: number;
	jobId: string;
	url: string | null;
	event: HandlerEvent;
	batchId: string | null;
	concurrencyKey: string | null;
}

/**
 * Flow control (docs/flow-control.md), part of the settlement statement only when the group has
 * keyed tasks: a key whose task finished wakes its parked tasks (a key with a line always has a wake
 * time), and a handler's Retry-After throttles the key. The caller holds the queue's dispatch lock.
 * Two statements on disjoint keys: a row is written once per statement.
 */
const KEY_CTES = `, keyed AS (
		   SELECT u.queue, u."concurrencyKey" AS key, max(u."throttleSeconds") AS throttle
		   FROM updated u WHERE u."concurrencyKey" IS NOT NULL GROUP BY 1, 2
		 ), keys_throttled AS (
		   INSERT INTO task_keys AS k (queue, key, throttled_until)
		   SELECT queue, key, now() + make_interval(secs => throttle) FROM keyed WHERE throttle IS NOT NULL
		   ON CONFLICT (queue, key) DO UPDATE SET
		     throttled_until = GREATEST(k.throttled_until, EXCLUDED.throttled_until), updated_at = now(),
		     -- Its line (if any) wakes when the throttle ends, not later.
		     wake_at = CASE WHEN k.wake_at IS NULL THEN NULL ELSE LEAST(k.wake_at, GREATEST(k.throttled_until, EXCLUDED.throttled_until)) END
		 ), keys_woken AS (
		   UPDATE task_keys k SET wake_at = now(), updated_at = now()
		   FROM keyed WHERE keyed.throttle IS NULL AND k.queue = keyed.queue AND k.key = keyed.key AND k.wake_at > now()
		 )`;

/** A handler's Retry-After on a task without a key throttles its whole queue. */
const QUEUE_THROTTLE_CTE = `, queue_throttled AS (
		   UPDATE queues q SET throttled_until = GREATEST(q.throttled_until, now() + make_interval(secs => u.throttle))
		   FROM (SELECT queue, max("throttleSeconds") AS throttle FROM updated
		         WHERE "concurrencyKey" IS NULL AND "throttleSeconds" IS NOT NULL GROUP BY queue) u
		   WHERE q.name = u.queue
		 )`;

/**
 * Writes a group of settlements as ONE statement: the task transitions (guarded by the claim token,
 * so a task rescued, redriven or deleted meanwhile is not touched), the attempts of the tasks that
 * did move, the completion of the dispatch jobs they were claimed with (dispatch/jobSql.ts), their
 * handlers' health, and a notification of the queues whose slots were freed. One statement, not
 * five, because this runs once per group of deliveries on the hot path: each round trip there is
 * time a slot stays empty.
 */
export async function writeSettlements(
	db: Queryable,
	jobs: JobTable,
	tasks: readonly SettledTask[],
	/** The attempts in the order their answers arrived (`ord`), for handler health. */
	attempts: readonly NewAttempt[],
	notifyChannel: string,
	/** Which flow-control parts the group needs (a statement without them plans faster). */
	flowControl: { keys: boolean; throttles: boolean } = { keys: true, throttles: true },
): Promise<SettledRow[]> {
	const { rows } = await db.query<SettledRow>(prepared(`settle${flowControl.keys ? '-keys' : ''}${flowControl.throttles ? '-throttles' : ''}`,
		`WITH updated AS (
		 UPDATE tasks t SET state = x.state,
		   result = CASE WHEN x.state = 'completed' THEN x.result ELSE t.result END,
		   due_at = CASE WHEN x.state = 'retrying' THEN now() + make_interval(secs => x."delaySeconds") ELSE t.due_at END,
		   finished_at = CASE WHEN x.state = 'retrying' THEN NULL ELSE now() END,
		   budget_base = x."budgetBase",
		   job_id = COALESCE(x."jobId", t.job_id),
		   last_error = x."lastError", last_status_code = x."lastStatusCode", last_error_class = x."lastErrorClass",
		   lease_expires_at = NULL, engine_id = NULL, deadline_at = NULL,
		   -- A heartbeat's progress belongs to its attempt: a task waiting for its next one shows none.
		   progress = CASE WHEN x.state = 'retrying' THEN NULL ELSE t.progress END
		 FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt int, state text, result jsonb, "delaySeconds" float8,
		   "budgetBase" int, "jobId" uuid, "claimedJobId" uuid, "lastError" text, "lastStatusCode" int, "lastErrorClass" text, "throttleSeconds" float8)
		 WHERE t.id = x.id AND t.state = 'active' AND t.attempt_count = x.attempt
		 RETURNING t.id, t.queue, t.state, t.due_at AS "dueAt", t.priority, t.timeout_seconds AS "timeoutSeconds", t.job_id AS "jobId", t.url,
		   t.event, t.batch_id AS "batchId", t.concurrency_key AS "concurrencyKey", x."throttleSeconds", x."claimedJobId"
		 )${flowControl.keys ? KEY_CTES : ''}${flowControl.throttles ? QUEUE_THROTTLE_CTE : ''},
		 ${completeJobsCte(jobs, '(SELECT queue, "claimedJobId" AS job_id FROM updated)')}, attempt AS (
		   SELECT a.* FROM jsonb_to_recordset($2::jsonb) AS a("taskId" uuid, queue text, number int, "startedAt" timestamptz, "dueAt" timestamptz,
		     "durationMs" int, outcome text, "statusCode" int, "errorClass" text, error text, "responseSnippet" text, "handlerId" uuid, report text, ord int)
		   WHERE a."taskId" IN (SELECT id FROM updated)
		 ), recorded AS (
		   -- An attempt already recorded (by the rescuer, say) is kept as it is.
		   INSERT INTO attempts (task_id, queue, number, started_at, due_at, duration_ms, outcome, status_code, error_class, error, response_snippet, handler_id, report)
		   SELECT "taskId", queue, number, "startedAt", "dueAt", "durationMs", outcome, "statusCode", "errorClass", error, "responseSnippet", "handlerId", report
		   FROM attempt
		   ON CONFLICT (task_id, number) DO NOTHING
		 ), health AS (
		   -- Per handler, in arrival order. A handler turns unhealthy after 3 failures in a row (n8n answers
		   -- 404 while a workflow is inactive, and an unmarked 200 while it boots: 'unconfirmed' counts as a
		   -- failure) and healthy on its next success; lost deliveries say nothing about the handler.
		   SELECT "handlerId" AS id, count(*) AS n, count(*) FILTER (WHERE ok) AS ok_n, bool_and(ok) AS all_ok, bool_or(ok) AS any_ok,
		     (array_agg(ok ORDER BY ord DESC))[1] AS last_ok
		   FROM (SELECT "handlerId", outcome = 'delivered' AS ok, ord FROM attempt
		         WHERE "handlerId" IS NOT NULL AND "errorClass" IS DISTINCT FROM 'lost') h
		   GROUP BY "handlerId"
		 ), healed AS (
		   UPDATE handlers SET deliveries = deliveries + r.n, successes = successes + r.ok_n,
		     consecutive_failures = CASE WHEN r.last_ok THEN 0 WHEN r.any_ok THEN 1 ELSE consecutive_failures + r.n END,
		     healthy = CASE WHEN r.last_ok THEN true WHEN r.any_ok THEN healthy ELSE consecutive_failures + r.n < 3 END,
		     last_success_at = CASE WHEN r.any_ok THEN now() ELSE last_success_at END,
		     last_failure_at = CASE WHEN r.all_ok THEN last_failure_at ELSE now() END
		   FROM health r WHERE handlers.id = r.id
		 ), announced AS (
		   -- A freed slot may let another engine claim: tell the queues' dispatchers, in this statement.
		   SELECT pg_notify($3, queue) FROM (SELECT DISTINCT queue FROM updated) q
		 )
		 SELECT id, queue, state, "dueAt", priority, "timeoutSeconds", "jobId", url, event, "batchId", "concurrencyKey" FROM updated
		 WHERE (SELECT count(*) FROM announced) >= 0`,
		[JSON.stringify(tasks), JSON.stringify(attempts.map((a, ord) => ({ ...a, ord }))), notifyChannel],
	));
	return rows;
}

/** How long an open async attempt waits for a report when neither its task nor its queue says. */
export const DEFAULT_ASYNC_TIMEOUT_SECONDS = 3600;
/**
 * The deadline of an open async attempt of task `t` in queue `q`, as SQL: now + `extendSeconds` (a
 * parameter reference, for heartbeats) when given, else the task's async timeout, else its queue's,
 * else 3,600 s. The one place that rule is written.
 */
export function asyncDeadlineSql(extendSeconds?: string): string {
	const first = extendSeconds === undefined ? '' : `${extendSeconds}::int, `;
	return `now() + make_interval(secs => COALESCE(${first}t.async_timeout_seconds, q.async_timeout_seconds, ${DEFAULT_ASYNC_TIMEOUT_SECONDS}))`;
}
const DEADLINE = asyncDeadlineSql();

/**
 * Leaves attempts open after their handler answered 202 (docs/async-completion.md): the task stays
 * `active`, owned by no engine (the handler has the work, not the engine that sent it), until a
 * report closes the attempt or its deadline passes — the task's `asyncTimeoutSeconds`, else its
 * queue's, else 3,600 s. The deadline is also the lease: the rescuer ends the attempt as a timeout.
 * Guarded by the claim token like every settlement; returns the ids of the attempts opened.
 */
export async function openAsyncAttempts(db: Queryable, attempts: readonly { id: string; attempt: number }[]): Promise<string[]> {
	const { rows } = await db.query<{ id: string }>(
		`UPDATE tasks t SET deadline_at = ${DEADLINE}, lease_expires_at = ${DEADLINE}, engine_id = NULL
		 FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt int), queues q
		 WHERE t.id = x.id AND t.state = 'active' AND t.attempt_count = x.attempt AND q.name = t.queue
		 RETURNING t.id`,
		[JSON.stringify(attempts)],
	);
	return rows.map((r) => r.id);
}
