import type { Queryable } from '../db/pool.js';
import type { IdRange } from './eventPosition.js';

/**
 * The SQL of the event log (`task_events`, written by the triggers of migration 0010): reading
 * what follows a position, the window a position may resume in, and trimming.
 */

/** One row of the log: a task's visible state change, or its becoming a dead letter. */
export interface LoggedEvent {
	id: number;
	kind: 'state' | 'dead_lettered';
	at: Date;
	taskId: string;
	queue: string;
	name: string;
	state: string;
	attempt: number;
	batchId: string | null;
}

/**
 * Up to `limit` rows after a position, in id order: those above `high`, and those that have
 * appeared in its gaps since. Each part is an index range of the primary key, so a read costs what
 * it returns, however long the log is.
 */
export async function readEventsAfter(db: Queryable, high: number, gaps: readonly IdRange[], limit: number): Promise<LoggedEvent[]> {
	const { rows } = await db.query<LoggedEvent>({
		name: 'events-read-after',
		text: `SELECT id, kind, at, task_id AS "taskId", queue, name, state, attempt, batch_id AS "batchId" FROM (
		   (SELECT * FROM task_events WHERE id > $1 ORDER BY id LIMIT $4)
		   UNION ALL
		   SELECT e.* FROM unnest($2::bigint[], $3::bigint[]) AS g(lo, hi)
		   JOIN LATERAL (SELECT * FROM task_events WHERE id BETWEEN g.lo AND g.hi ORDER BY id LIMIT $4) e ON true
		 ) x ORDER BY id LIMIT $4`,
		values: [high, gaps.map((g) => g.from), gaps.map((g) => g.to), limit],
	});
	return rows;
}

/** The highest id written so far (0 for an empty log), and the ids present in the `span` ids below it. */
export async function readLogHead(db: Queryable, span: number): Promise<{ high: number; recentIds: number[] }> {
	const { rows } = await db.query<{ high: number | null; ids: number[] | null }>(
		`SELECT h.high, (SELECT array_agg(id ORDER BY id) FROM task_events WHERE id > h.high - $1) AS ids
		 FROM (SELECT max(id) AS high FROM task_events) h`,
		[span],
	);
	// An int8[] arrives as text (only plain int8 has a number parser).
	return { high: rows[0].high ?? 0, recentIds: (rows[0].ids ?? []).map(Number) };
}

/** Where a resume position may start: above the highest trimmed id, and not above the last id taken. */
export async function readLogWindow(db: Queryable): Promise<{ trimmedThrough: number; lastTaken: number }> {
	const { rows } = await db.query<{ trimmedThrough: number; lastTaken: number }>(
		`SELECT (SELECT trimmed_through FROM task_event_horizon) AS "trimmedThrough",
		   (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM task_events_id_seq) AS "lastTaken"`,
	);
	return rows[0];
}

/**
 * Deletes up to `limit` rows below the first row of the window (rows since `cutoff`), oldest first,
 * and raises the horizon to the highest id deleted. One engine at a time (the others skip the run).
 * Returns how many rows went.
 */
export async function trimEventLog(db: Queryable, cutoff: Date | null, windowSeconds: number, limit: number): Promise<number> {
	const { rows } = await db.query<{ deleted: number }>(
		`WITH lock AS (SELECT pg_try_advisory_xact_lock(hashtext('task-engine:trim-events:' || current_schema())) AS got),
		 bound AS (
		   SELECT COALESCE(
		     (SELECT id FROM task_events WHERE at >= COALESCE($1::timestamptz, now()) - make_interval(secs => $2) ORDER BY id LIMIT 1),
		     (SELECT max(id) + 1 FROM task_events)) AS first_kept
		 ), doomed AS (
		   SELECT e.id FROM task_events e, bound b, lock l WHERE l.got AND e.id < b.first_kept ORDER BY e.id LIMIT $3
		 ), deleted AS (
		   DELETE FROM task_events e USING doomed d WHERE e.id = d.id RETURNING e.id
		 ), raised AS (
		   UPDATE task_event_horizon SET trimmed_through = GREATEST(trimmed_through, (SELECT max(id) FROM deleted))
		   WHERE EXISTS (SELECT 1 FROM deleted) RETURNING 1
		 )
		 SELECT (SELECT count(*) FROM deleted)::int AS deleted, (SELECT count(*) FROM raised) AS r`,
		[cutoff?.toISOString() ?? null, windowSeconds, limit],
	);
	return rows[0].deleted;
}
