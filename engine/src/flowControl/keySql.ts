import type { Queryable } from '../db/pool.js';
import type { QueueRow } from '../queues/queueSql.js';
import type { Dispatchable } from '../tasks/dispatchJobs.js';
import { dispatchLock } from '../delivery/dispatchLock.js';

/**
 * Per-key flow control in SQL (docs/flow-control.md). Every statement here that writes `task_keys`
 * or parks and wakes tasks runs under the queue's dispatch lock, so a key's count of active tasks
 * cannot change under it except by its own hand: the limits are exact across engines.
 */

/** Safety net: a key parked behind its concurrency limit is looked at again after this even if no wake-up came. */
export const RECHECK_SECONDS = 60;
/** At most this many keys are woken per claim round, and this many tasks per key. */
const WAKE_KEYS = 200;
const WAKE_PER_KEY = 1000;

/** The start of the key's current rate window: now when it has none or the last one ended. */
export function windowStart(k: string, period: string): string {
	return `CASE WHEN ${k}.rate_window_start IS NULL OR ${k}.rate_window_start + make_interval(secs => ${period}) <= now()
		       THEN now() ELSE ${k}.rate_window_start END`;
}

/** What the claim needs to know about a queue's keys before it fetches. */
export interface KeyOutlook {
	/** Keys whose wake time has come (their parked tasks may go back in line). */
	woken: number;
	/** Seconds until the next key wakes by the clock; null: none. */
	nextWakeInSeconds: number | null;
	/** The whole queue is throttled (a task without a key met a 429/503 + Retry-After): seconds left. */
	throttledForSeconds: number | null;
	/** Some key of the queue is throttled now (so the claim must check keys even without key limits). */
	keysThrottled: boolean;
}

/**
 * The `KeyOutlook` of queue `queueParam` as select-list columns, for the claim's first statement
 * to carry (a round trip less per claim than a query of its own).
 */
export function keyOutlookColumns(queueParam: string): string {
	return `(SELECT count(*)::int FROM task_keys WHERE queue = ${queueParam} AND wake_at <= now()) AS woken,
	  (SELECT extract(epoch FROM min(wake_at) - now())::float8 FROM task_keys WHERE queue = ${queueParam} AND wake_at > now()) AS "nextWakeInSeconds",
	  (SELECT extract(epoch FROM throttled_until - now())::float8 FROM queues WHERE name = ${queueParam} AND throttled_until > now()) AS "throttledForSeconds",
	  EXISTS (SELECT 1 FROM task_keys WHERE queue = ${queueParam} AND throttled_until > now()) AS "keysThrottled"`;
}

/**
 * Puts the heads of woken keys' lines back in line: as many parked tasks as the key has room for
 * (concurrency left after its active tasks and those already in line, permits left in its window,
 * none while throttled), in priority then due order. Returns them with fresh job ids for the caller
 * to insert their dispatch jobs. A key with tasks still parked wakes again at its window's or
 * throttle's end, or — bound by concurrency — when one of its tasks finishes (settlement), with a
 * recheck as a safety net.
 */
export async function unparkWoken(db: Queryable, queue: QueueRow): Promise<Dispatchable[]> {
	const { rows } = await db.query<Dispatchable>(
		`WITH woken AS (
		   SELECT k.key, COALESCE(k.throttled_until > now(), false) AS throttled, k.throttled_until,
		     ${windowStart('k', '$4')} AS window_start,
		     CASE WHEN ${windowStart('k', '$4')} = now() THEN 0 ELSE k.rate_window_count END AS used
		   FROM task_keys k WHERE k.queue = $1 AND k.wake_at <= now()
		   ORDER BY k.wake_at LIMIT ${WAKE_KEYS}
		   FOR UPDATE
		 ), room AS (
		   SELECT w.*, CASE WHEN w.throttled THEN 0 ELSE GREATEST(0, LEAST(
		       COALESCE($2::int - (SELECT count(*)::int FROM tasks a WHERE a.queue = $1 AND a.state = 'active' AND a.concurrency_key = w.key), ${WAKE_PER_KEY}),
		       COALESCE($3::int - w.used, ${WAKE_PER_KEY}))
		     - (SELECT count(*)::int FROM tasks q WHERE q.queue = $1 AND q.concurrency_key = w.key AND q.state = 'queued' AND NOT q.parked AND q.due_at <= now()))
		     END AS room
		   FROM woken w
		 ), heads AS (
		   SELECT h.id FROM room r CROSS JOIN LATERAL (
		     SELECT t.id FROM tasks t WHERE t.queue = $1 AND t.concurrency_key = r.key AND t.parked
		     ORDER BY t.priority DESC, t.due_at, t.created_at LIMIT r.room
		   ) h
		 ), unparked AS (
		   UPDATE tasks t SET parked = false, job_id = gen_random_uuid()
		   WHERE t.id = ANY (ARRAY(SELECT id FROM heads))
		   RETURNING t.id, t.queue, t.job_id AS "jobId", t.priority, t.due_at AS "dueAt", t.timeout_seconds AS "timeoutSeconds", t.url, t.event, t.concurrency_key
		 ), rewoken AS (
		   UPDATE task_keys k SET updated_at = now(), wake_at = CASE
		       -- The line is empty when the key had no more parked tasks than it just let go (read in line order, so by index).
		       WHEN (SELECT count(*) FROM (SELECT 1 FROM tasks p WHERE p.queue = $1 AND p.concurrency_key = r.key AND p.parked
		             ORDER BY p.priority DESC, p.due_at, p.created_at LIMIT r.room + 1) line) <= r.room THEN NULL
		       WHEN r.throttled THEN r.throttled_until
		       WHEN $3::int IS NOT NULL AND r.used >= $3::int THEN r.window_start + make_interval(secs => $4)
		       ELSE now() + make_interval(secs => ${RECHECK_SECONDS}) END
		   FROM room r WHERE k.queue = $1 AND k.key = r.key
		 )
		 SELECT id, queue, "jobId", priority, "dueAt", "timeoutSeconds", url, event FROM unparked`,
		[queue.name, queue.keyConcurrency, queue.keyRateLimitMax, queue.keyRateLimitPeriodSeconds ?? 1],
	);
	return rows;
}

/**
 * Parks a new task behind its key's line when the line exists (tasks of the key already parked),
 * so a newcomer does not overtake those waiting. Returns the (queue, key) pairs that have a line.
 * No lock: a line that empties meanwhile only means the newcomer waits for the key's next wake.
 */
export async function keysWithLines(db: Queryable, pairs: readonly { queue: string; key: string }[]): Promise<Set<string>> {
	if (pairs.length === 0) return new Set();
	const { rows } = await db.query<{ queue: string; key: string }>(
		`SELECT DISTINCT p.queue, p.key FROM unnest($1::text[], $2::text[]) AS p(queue, key)
		 WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.queue = p.queue AND t.concurrency_key = p.key AND t.parked
		               ORDER BY t.priority DESC, t.due_at, t.created_at LIMIT 1)`,
		[pairs.map((p) => p.queue), pairs.map((p) => p.key)],
	);
	return new Set(rows.map((r) => lineId(r.queue, r.key)));
}

export const lineId = (queue: string, key: string) => `${queue}\u0000${key}`;

/**
 * Safety sweep (the rescuer runs it): a key with parked tasks but no wake time — a line that an
 * enqueue joined while the claim was emptying it — is woken. Also forgets keys with nothing left to
 * remember. Returns the keys woken.
 */
export async function sweepKeys(db: Queryable): Promise<number> {
	const { rows } = await db.query<{ woken: number }>(
		`WITH woken AS (
		   UPDATE task_keys k SET wake_at = now(), updated_at = now()
		   WHERE k.wake_at IS NULL
		     AND EXISTS (SELECT 1 FROM tasks t WHERE t.queue = k.queue AND t.concurrency_key = k.key AND t.parked
		                 ORDER BY t.priority DESC, t.due_at, t.created_at LIMIT 1)
		   RETURNING 1
		 ), forgotten AS (
		   DELETE FROM task_keys k
		   WHERE k.wake_at IS NULL AND k.updated_at < now() - interval '1 hour'
		     AND (k.throttled_until IS NULL OR k.throttled_until < now())
		     AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.queue = k.queue AND t.concurrency_key = k.key AND t.parked)
		 )
		 SELECT count(*)::int AS woken FROM woken`,
	);
	return rows[0]?.woken ?? 0;
}

/** Wakes every key of the queue waiting for something (its limits changed), under its dispatch lock. */
export async function wakeAllKeys(db: Queryable, schema: string, queue: string): Promise<void> {
	await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [dispatchLock(schema, queue)]);
	await db.query('UPDATE task_keys SET wake_at = now(), updated_at = now() WHERE queue = $1 AND wake_at IS NOT NULL', [queue]);
}

export interface ThrottledKey {
	queue: string;
	/** null: the whole queue (a task without a key was throttled). */
	key: string | null;
	until: Date;
}

/** Keys (and queues, as key null) a handler's 429/503 holds back now, for health: at most `limit` per queue, latest first. */
export async function throttledKeys(db: Queryable, queues: readonly string[], limit = 100): Promise<ThrottledKey[]> {
	const { rows } = await db.query<ThrottledKey>(
		`SELECT name AS queue, NULL::text AS key, throttled_until AS until FROM queues WHERE name = ANY($1) AND throttled_until > now()
		 UNION ALL
		 SELECT q.name, k.key, k.throttled_until FROM unnest($1::text[]) AS q(name) CROSS JOIN LATERAL (
		   SELECT key, throttled_until FROM task_keys WHERE queue = q.name AND throttled_until > now() ORDER BY throttled_until DESC LIMIT $2
		 ) k`,
		[queues, limit],
	);
	return rows;
}
