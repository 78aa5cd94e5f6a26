import type { Queryable } from '../db/pool.js';

export type HandlerEvent = 'task' | 'batch' | 'dead_letter';
export type HandlerMode = 'production' | 'test';

export interface HandlerRow {
	id: string;
	queue: string;
	url: string;
	events: HandlerEvent[];
	mode: HandlerMode;
	secret: string;
	/** A 2xx completes a task only with the handler's confirmation marker (delivery/confirmation.ts). */
	confirm: boolean;
	healthy: boolean;
	consecutiveFailures: number;
	deliveries: number;
	successes: number;
	/** When it was registered (a test handler: its latest registration), by the database clock. */
	createdAt: Date;
	/** A test handler's one task, once an engine has claimed the handler for it; null otherwise. */
	testTaskId: string | null;
}

const COLUMNS = `id, queue, url, events, mode, secret, confirm, healthy, consecutive_failures AS "consecutiveFailures",
  deliveries, successes, created_at AS "createdAt", test_task_id AS "testTaskId"`;

/**
 * A test handler lives this long after its registration, as long as n8n's editor
 * listens for a test event; it is deleted sooner, after its one delivery.
 */
export const TEST_HANDLER_TTL_SECONDS = 120;

/** Handlers that still exist for deliveries and the API: production ones, test ones inside their window. */
const LIVE = `(mode = 'production' OR created_at > now() - make_interval(secs => ${TEST_HANDLER_TTL_SECONDS}))`;

/**
 * Registers a handler, or returns the one already registered for the same queue, URL and mode (a
 * Task Trigger re-activating must not pile up duplicates); its events and `confirm` are updated to
 * the new ones. Registering a test handler again is a new test: its 120 s and its one task start over.
 */
export async function upsertHandler(
	db: Queryable,
	h: { id: string; queue: string; url: string; events: HandlerEvent[]; mode: HandlerMode; secret: string; confirm: boolean },
): Promise<{ handler: HandlerRow; created: boolean }> {
	// The unique (queue, url, mode) index makes concurrent registrations of one URL converge on one row.
	const { rows } = await db.query<HandlerRow & { inserted: boolean }>(
		`INSERT INTO handlers AS h (id, queue, url, events, mode, secret, confirm) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (queue, url, mode) DO UPDATE SET events = EXCLUDED.events, confirm = EXCLUDED.confirm,
		   created_at = CASE WHEN h.mode = 'test' THEN now() ELSE h.created_at END, test_task_id = NULL
		 RETURNING ${COLUMNS}, (xmax = 0) AS inserted`,
		[h.id, h.queue, h.url, h.events, h.mode, h.secret, h.confirm],
	);
	const { inserted, ...handler } = rows[0];
	return { handler, created: inserted };
}

export async function listHandlers(db: Queryable, queue: string): Promise<HandlerRow[]> {
	const { rows } = await db.query<HandlerRow>(`SELECT ${COLUMNS} FROM handlers WHERE queue = $1 AND ${LIVE} ORDER BY created_at, id`, [queue]);
	return rows;
}

export async function listAllHandlers(db: Queryable): Promise<HandlerRow[]> {
	const { rows } = await db.query<HandlerRow>(`SELECT ${COLUMNS} FROM handlers WHERE ${LIVE} ORDER BY queue, created_at, id`);
	return rows;
}

export async function getHandler(db: Queryable, queue: string, id: string): Promise<HandlerRow | null> {
	const { rows } = await db.query<HandlerRow>(`SELECT ${COLUMNS} FROM handlers WHERE queue = $1 AND id = $2 AND ${LIVE}`, [queue, id]);
	return rows[0] ?? null;
}

export async function deleteHandler(db: Queryable, queue: string, id: string): Promise<boolean> {
	const { rowCount } = await db.query('DELETE FROM handlers WHERE queue = $1 AND id = $2', [queue, id]);
	return rowCount === 1;
}

/**
 * Claims a test handler for one task: only one task ever gets it (per registration), only inside its
 * window, and only while its queue has no healthy production handler for the event — all checked
 * here, in the database every engine shares, whatever an engine's catalog believes.
 */
export async function claimTestHandler(db: Queryable, c: { id: string; taskId: string; event: HandlerEvent }): Promise<boolean> {
	const { rowCount } = await db.query(
		`UPDATE handlers h SET test_task_id = $2
		 WHERE h.id = $1 AND h.mode = 'test' AND h.test_task_id IS NULL AND ${LIVE}
		   AND NOT EXISTS (
		     SELECT 1 FROM handlers p WHERE p.queue = h.queue AND p.mode = 'production' AND p.healthy AND $3 = ANY (p.events)
		   )`,
		[c.id, c.taskId, c.event],
	);
	return rowCount === 1;
}

/** Gives a test handler its task back unspent (the delivery was given back, not made). */
export async function releaseTestHandler(db: Queryable, c: { id: string; taskId: string }): Promise<string | null> {
	const { rows } = await db.query<{ queue: string }>(
		'UPDATE handlers SET test_task_id = NULL WHERE id = $1 AND test_task_id = $2 RETURNING queue',
		[c.id, c.taskId],
	);
	return rows[0]?.queue ?? null;
}

/** Deletes a test handler after the delivery of its task (not if it was registered again meanwhile); its queue. */
export async function deleteSpentTestHandler(db: Queryable, c: { id: string; taskId: string }): Promise<string | null> {
	const { rows } = await db.query<{ queue: string }>(
		"DELETE FROM handlers WHERE id = $1 AND mode = 'test' AND test_task_id = $2 RETURNING queue",
		[c.id, c.taskId],
	);
	return rows[0]?.queue ?? null;
}

/** Deletes test handlers past their window; the queue of each (for the catalogs to reload). */
export async function deleteExpiredTestHandlers(db: Queryable): Promise<string[]> {
	const { rows } = await db.query<{ queue: string }>(
		`DELETE FROM handlers WHERE mode = 'test' AND created_at <= now() - make_interval(secs => ${TEST_HANDLER_TTL_SECONDS})
		 RETURNING queue`,
	);
	return rows.map((r) => r.queue);
}

