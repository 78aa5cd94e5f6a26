import type { Queryable } from '../db/pool.js';
import { TASK_COLUMNS, type TaskRow } from './taskSql.js';

/** How the enqueues of a group change its task's payload. */
export type DebounceMode = 'replace' | 'collect';

/** The group a new task opens (migration 0013): stored on the task with `debounce_open` set. */
export interface DebounceGroup {
	key: string;
	mode: DebounceMode;
	/** The task runs at the latest this long after the group's first enqueue (its `created_at`); null: no limit. */
	maxWaitSeconds: number | null;
}

/** The task holding a group open, as an enqueue of the group sees it. */
export interface GroupTask {
	task: TaskRow;
	mode: DebounceMode;
	/** Parked behind its concurrency key: it holds no dispatch job (migration 0012). */
	parked: boolean;
}

/**
 * The task holding the (queue, key) group open, if any, and whether it still waits for its first
 * attempt. When it does, `lockName` (the queue's dispatch lock) is taken before the caller locks
 * the task, in the order the claim takes them (lock, then the task's row), so a join never
 * deadlocks with a claim; a task already under way is only closed, which needs no dispatch lock.
 */
export async function findOpenGroup(db: Queryable, queue: string, key: string, lockName: string): Promise<{ id: string; waiting: boolean } | null> {
	const { rows } = await db.query<{ id: string; waiting: boolean }>(
		`SELECT t.id, t.state = 'queued' AND t.attempt_count = 0 AS waiting,
		   CASE WHEN t.state = 'queued' AND t.attempt_count = 0 THEN pg_advisory_xact_lock(hashtext($3)) END
		 FROM tasks t WHERE t.queue = $1 AND t.debounce_key = $2 AND t.debounce_open`,
		[queue, key, lockName],
	);
	return rows[0] ?? null;
}

/** The task holding a group open, locked for the rest of the transaction. */
export async function lockGroupTask(db: Queryable, id: string): Promise<GroupTask | null> {
	const { rows } = await db.query<TaskRow & { debounceMode: DebounceMode; parked: boolean }>(
		`SELECT ${TASK_COLUMNS}, t.debounce_mode AS "debounceMode", t.parked FROM tasks t WHERE t.id = $1 AND t.debounce_open FOR UPDATE`,
		[id],
	);
	const row = rows[0];
	if (!row) return null;
	const { debounceMode, parked, ...task } = row;
	return { task, mode: debounceMode, parked };
}

/** Closes a group: no enqueue joins its task any more (the next one opens a new group). */
export async function closeGroup(db: Queryable, id: string): Promise<void> {
	await db.query('UPDATE tasks SET debounce_open = false WHERE id = $1', [id]);
}

/**
 * Joins a group: `payload` replaces the task's payload (`replace`) or is appended to its
 * `payload.items` (`collect`); the task becomes due `seconds` from now, but never later than the
 * group's longest wait after its first enqueue. `jobId` is the task's new dispatch job, or null
 * for a parked task, which keeps having none.
 */
export async function joinGroup(db: Queryable, id: string, payload: unknown, seconds: number, jobId: string | null): Promise<TaskRow> {
	const { rows } = await db.query<TaskRow>(
		`UPDATE tasks t SET
		   payload = CASE WHEN t.debounce_mode = 'collect'
		     THEN jsonb_set(t.payload, '{items}', (t.payload -> 'items') || jsonb_build_array($2::jsonb))
		     ELSE $2::jsonb END,
		   due_at = LEAST(now() + make_interval(secs => $3), t.created_at + make_interval(secs => t.debounce_max_wait_seconds)),
		   job_id = COALESCE($4::uuid, t.job_id)
		 WHERE t.id = $1
		 RETURNING ${TASK_COLUMNS}`,
		[id, JSON.stringify(payload), seconds, jobId],
	);
	return rows[0];
}
