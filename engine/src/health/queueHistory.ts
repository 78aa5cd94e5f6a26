import type { Queryable } from '../db/pool.js';
import { notFound } from '../errors.js';

/** One minute of a queue's history (the dashboard's charts). */
export interface HistoryPoint {
	/** The minute's start (ISO 8601, UTC). */
	at: string;
	/** Attempts that delivered: tasks completed. */
	completed: number;
	/** Attempts after which the task became a dead letter (a final answer, or the last attempt of its budget). */
	failed: number;
	/** Attempts that did not deliver and after which the task was to be tried again. */
	retried: number;
	/** Start minus due time of the minute's attempts; null when none started. */
	latenessMsP50: number | null;
	latenessMsP95: number | null;
}

export interface QueueHistory {
	queue: string;
	minutes: number;
	/** One point per minute, oldest first, the current minute last; minutes without attempts are zeros. */
	points: HistoryPoint[];
}

/**
 * Attempts per minute of one queue over the last `minutes`, by the minute each attempt started
 * (database clock): one range of the attempts of the window, and one of the queue's dead letters
 * that failed within it (to tell the last retryable failure of a budget from a retry). The cost
 * follows the window's attempts, not the size of the tables. Attempts given back at shutdown
 * (`aborted`) count nowhere, as in the health figures. A dead letter redriven since counts its last
 * attempt as retried.
 */
export async function readQueueHistory(db: Queryable, queue: string, minutes: number): Promise<QueueHistory> {
	const { rows } = await db.query<{ at: Date; completed: number; failed: number; retried: number; lateness: (number | null)[] | null }>({
		name: 'queue-history',
		text: `WITH per_minute AS (
		   SELECT date_trunc('minute', a.started_at) AS minute,
		     count(*) FILTER (WHERE a.outcome = 'delivered')::int AS completed,
		     count(*) FILTER (WHERE a.outcome = 'failed')::int AS final,
		     count(*) FILTER (WHERE a.outcome NOT IN ('delivered', 'failed'))::int AS retryable,
		     percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY extract(epoch FROM a.started_at - a.due_at) * 1000)::float8[] AS lateness
		   FROM attempts a
		   -- The bound is an expression of now(), not a join: the index range starts at it.
		   WHERE a.queue = $1 AND a.started_at >= date_trunc('minute', now()) - make_interval(mins => $2 - 1)
		     AND a.error_class IS DISTINCT FROM 'aborted'
		   GROUP BY 1
		 ), exhausted AS (
		   -- Retryable failures that were the last attempt of their budget: the dead letters that failed
		   -- within the window (an index range of tasks_failed), each joined to its last attempt.
		   SELECT date_trunc('minute', a.started_at) AS minute, count(*)::int AS n
		   FROM tasks t
		   JOIN attempts a ON a.task_id = t.id AND a.number = t.attempt_count
		   WHERE t.queue = $1 AND t.state = 'failed' AND t.finished_at >= date_trunc('minute', now()) - make_interval(mins => $2 - 1)
		     AND a.started_at >= date_trunc('minute', now()) - make_interval(mins => $2 - 1)
		     AND a.outcome NOT IN ('delivered', 'failed') AND a.error_class IS DISTINCT FROM 'aborted'
		   GROUP BY 1
		 )
		 SELECT m.minute AS at, COALESCE(p.completed, 0) AS completed,
		   COALESCE(p.final, 0) + COALESCE(x.n, 0) AS failed, COALESCE(p.retryable, 0) - COALESCE(x.n, 0) AS retried, p.lateness
		 FROM generate_series(date_trunc('minute', now()) - make_interval(mins => $2 - 1), date_trunc('minute', now()), interval '1 minute') AS m(minute)
		 LEFT JOIN per_minute p ON p.minute = m.minute
		 LEFT JOIN exhausted x ON x.minute = m.minute
		 WHERE EXISTS (SELECT 1 FROM queues WHERE name = $1)
		 ORDER BY m.minute`,
		values: [queue, minutes],
	});
	if (rows.length === 0) throw notFound('Queue', queue, 'name');
	return {
		queue,
		minutes,
		points: rows.map((r) => ({
			at: r.at.toISOString(),
			completed: r.completed,
			failed: r.failed,
			retried: r.retried,
			latenessMsP50: rounded(r.lateness?.[0]),
			latenessMsP95: rounded(r.lateness?.[1]),
		})),
	};
}

function rounded(value: number | null | undefined): number | null {
	return value === null || value === undefined ? null : Math.round(value);
}
