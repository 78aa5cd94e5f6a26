import type { Queryable } from '../db/pool.js';
import type { PartialRetryPolicy } from '../tasks/policy.js';
import type { Misfire, Overlap, PreviousRun } from './firePlan.js';

/** A row of `schedules`, as the engine uses it. */
export interface ScheduleRow extends ScheduleValues {
	id: string;
	fireCount: number;
	createdAt: Date;
	updatedAt: Date;
}

/** What a create or update writes. */
export interface ScheduleValues {
	name: string;
	queue: string;
	/** null: tasks are named after the schedule. */
	taskName: string | null;
	payload: unknown;
	url: string | null;
	priority: number | null;
	retry: PartialRetryPolicy | null;
	timeoutSeconds: number | null;
	cron: string | null;
	everySeconds: number | null;
	timezone: string;
	startAt: Date | null;
	endAt: Date | null;
	misfire: Misfire;
	overlap: Overlap;
	paused: boolean;
	nextFireAt: Date | null;
	/** The latest occurrence turned into a task; recomputing `nextFireAt` starts after it. */
	lastFireAt: Date | null;
}

const COLUMNS = `id, name, queue, task_name AS "taskName", payload, url, priority, retry, timeout_seconds AS "timeoutSeconds",
  cron, every_seconds AS "everySeconds", timezone, start_at AS "startAt", end_at AS "endAt", misfire, overlap, paused,
  next_fire_at AS "nextFireAt", last_fire_at AS "lastFireAt", fire_count AS "fireCount",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

function params(v: ScheduleValues): unknown[] {
	return [
		v.name, v.queue, v.taskName, JSON.stringify(v.payload ?? {}), v.url, v.priority, v.retry === null ? null : JSON.stringify(v.retry),
		v.timeoutSeconds, v.cron, v.everySeconds, v.timezone, v.startAt, v.endAt, v.misfire, v.overlap, v.paused, v.nextFireAt, v.lastFireAt,
	];
}

/** The database clock (or the caller's fake clock, for tests of the enqueuer). */
export async function databaseNow(db: Queryable, override?: Date): Promise<Date> {
	const { rows } = await db.query<{ now: Date }>('SELECT COALESCE($1::timestamptz, now()) AS now', [override ?? null]);
	return rows[0].now;
}

/** Inserts a schedule; null when the name is taken. */
export async function insertSchedule(db: Queryable, id: string, v: ScheduleValues): Promise<ScheduleRow | null> {
	const { rows } = await db.query<ScheduleRow>(
		`INSERT INTO schedules (id, name, queue, task_name, payload, url, priority, retry, timeout_seconds, cron, every_seconds,
		   timezone, start_at, end_at, misfire, overlap, paused, next_fire_at, last_fire_at)
		 VALUES ($19, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		 ON CONFLICT (name) DO NOTHING
		 RETURNING ${COLUMNS}`,
		[...params(v), id],
	);
	return rows[0] ?? null;
}

/** Rewrites a schedule; throws the unique violation (23505) when the new name is taken. */
export async function updateSchedule(db: Queryable, id: string, v: ScheduleValues): Promise<ScheduleRow | null> {
	const { rows } = await db.query<ScheduleRow>(
		`UPDATE schedules SET name = $1, queue = $2, task_name = $3, payload = $4, url = $5, priority = $6, retry = $7,
		   timeout_seconds = $8, cron = $9, every_seconds = $10, timezone = $11, start_at = $12, end_at = $13, misfire = $14,
		   overlap = $15, paused = $16, next_fire_at = $17, last_fire_at = $18, updated_at = now()
		 WHERE id = $19
		 RETURNING ${COLUMNS}`,
		[...params(v), id],
	);
	return rows[0] ?? null;
}

export async function getSchedule(db: Queryable, id: string, forUpdate = false): Promise<ScheduleRow | null> {
	const { rows } = await db.query<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules WHERE id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [id]);
	return rows[0] ?? null;
}

export async function getScheduleByName(db: Queryable, name: string, forUpdate = false): Promise<ScheduleRow | null> {
	const { rows } = await db.query<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules WHERE name = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [name]);
	return rows[0] ?? null;
}

/** A page of schedules by name, after `after`, optionally of one queue. */
export async function listSchedules(db: Queryable, f: { queue?: string; after: string | null; limit: number }): Promise<ScheduleRow[]> {
	const { rows } = await db.query<ScheduleRow>(
		`SELECT ${COLUMNS} FROM schedules
		 WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR name > $2)
		 ORDER BY name LIMIT $3`,
		[f.queue ?? null, f.after, f.limit],
	);
	return rows;
}

export async function deleteSchedule(db: Queryable, id: string): Promise<boolean> {
	const { rowCount } = await db.query('DELETE FROM schedules WHERE id = $1', [id]);
	return rowCount === 1;
}

/**
 * Locks schedules with an occurrence due by `now + lookahead`, oldest first. Rows another engine is
 * firing are skipped, so engines share the work instead of queuing on each other's locks; `exclude`
 * holds those this run already handled.
 */
export async function lockDueSchedules(db: Queryable, now: Date, lookaheadMs: number, limit: number, exclude: readonly string[] = []): Promise<ScheduleRow[]> {
	const { rows } = await db.query<ScheduleRow>(
		`SELECT ${COLUMNS} FROM schedules
		 WHERE next_fire_at IS NOT NULL AND NOT paused AND next_fire_at <= $1::timestamptz + make_interval(secs => $2::float8 / 1000)
		   AND NOT (id = ANY($4::uuid[]))
		 ORDER BY next_fire_at
		 LIMIT $3
		 FOR UPDATE SKIP LOCKED`,
		[now, lookaheadMs, limit, exclude],
	);
	return rows;
}

export interface Advance {
	id: string;
	/** The `next_fire_at` this engine planned from: the update only applies if it is still current. */
	expected: Date;
	next: Date | null;
	lastFireAt: Date | null;
	fired: number;
}

/**
 * Moves schedules past the occurrences just planned, as a compare-and-set on `next_fire_at`.
 * Returns the ids that moved; only their tasks may be written.
 */
export async function advanceSchedules(db: Queryable, advances: readonly Advance[]): Promise<Set<string>> {
	if (advances.length === 0) return new Set();
	const { rows } = await db.query<{ id: string }>(
		`UPDATE schedules s SET next_fire_at = x.next, last_fire_at = COALESCE(x.last, s.last_fire_at), fire_count = s.fire_count + x.fired
		 FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, expected timestamptz, next timestamptz, last timestamptz, fired int)
		 WHERE s.id = x.id AND s.next_fire_at = x.expected
		 RETURNING s.id`,
		[JSON.stringify(advances.map((a) => ({ id: a.id, expected: a.expected, next: a.next, last: a.lastFireAt, fired: a.fired })))],
	);
	return new Set(rows.map((r) => r.id));
}

// ---- the tasks of schedules (reads and writes of `tasks` that only schedules need) ----

/** Where each schedule's latest task (by the `tasks_schedule` index) stands at `now`. */
export async function previousRuns(db: Queryable, scheduleIds: readonly string[], now: Date): Promise<Map<string, PreviousRun>> {
	const out = new Map<string, PreviousRun>();
	if (scheduleIds.length === 0) return out;
	const { rows } = await db.query<{ id: string; run: PreviousRun }>(
		`SELECT s.id, CASE
		     WHEN t.state = 'queued' AND t.due_at > $2 THEN 'pending'
		     WHEN t.state IN ('queued', 'active', 'retrying') THEN 'running'
		     ELSE 'finished' END AS run
		 FROM unnest($1::uuid[]) AS s(id)
		 CROSS JOIN LATERAL (
		   SELECT state, due_at FROM tasks WHERE schedule_id = s.id ORDER BY created_at DESC LIMIT 1
		 ) t`,
		[scheduleIds, now],
	);
	for (const r of rows) out.set(r.id, r.run);
	return out;
}
