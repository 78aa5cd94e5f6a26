import type { Queryable } from '../db/pool.js';
import { BATCH_COLUMNS, type BatchRow } from './batchSql.js';

/**
 * Statements on `batch_chunks`. Those that move chunks also adjust their batch's counters in the
 * same statement, by increments: the counters can then never drift from the chunks, whichever
 * engine moves them.
 */

/**
 * Appends items to a batch's chunks in one set-based statement: item n (counting from the items
 * already in the batch) goes to chunk n / chunkSize, so a page that starts mid-chunk tops up the
 * last chunk first. Returns the size in bytes of the largest touched chunk's task payload (batch
 * payload + items), as PostgreSQL prints it (a little above JSON.stringify's size: a safe estimate).
 */
export async function appendChunkItems(
	db: Queryable,
	batch: { id: string; totalItems: number; chunkSize: number; payload: Record<string, unknown> },
	items: readonly unknown[],
): Promise<number> {
	const { rows } = await db.query<{ bytes: number | null }>(
		`WITH grouped AS (
		   SELECT (($2::bigint + e.ord - 1) / $3)::int AS chunk_index, jsonb_agg(e.value ORDER BY e.ord) AS items, count(*)::int AS n
		   FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS e(value, ord)
		   GROUP BY 1
		 ), written AS (
		   INSERT INTO batch_chunks AS c (batch_id, chunk_index, items, item_count)
		   SELECT $1, chunk_index, items, n FROM grouped
		   ON CONFLICT (batch_id, chunk_index) DO UPDATE SET items = c.items || EXCLUDED.items, item_count = c.item_count + EXCLUDED.item_count
		   RETURNING c.items
		 )
		 SELECT max(octet_length(($5::jsonb || jsonb_build_object('items', items))::text))::int AS bytes FROM written`,
		[batch.id, batch.totalItems, batch.chunkSize, JSON.stringify(items), batch.payload],
	);
	return rows[0]?.bytes ?? 0;
}

/** A chunk taken out of `pending` to be delivered. */
export interface ReleasedChunk {
	chunkIndex: number;
	taskId: string;
	/** The chunk ran before (retry-failed): its task is requeued rather than created. */
	rerun: boolean;
	items: unknown[];
	/** When its task is due: releases are spaced by the batch's delay between chunks. */
	dueAt: Date;
}

/**
 * Moves up to `limit` pending chunks (lowest index first) to `active` and counts them on the batch.
 * Due times continue from the batch's `next_release_at`, `delay_between_chunks_seconds` apart, by the
 * database clock. The caller holds the batch's lock.
 */
export async function releaseChunks(db: Queryable, batchId: string, limit: number): Promise<ReleasedChunk[]> {
	const { rows } = await db.query<ReleasedChunk>(
		`WITH picked AS (
		   SELECT chunk_index, items, task_id FROM batch_chunks
		   WHERE batch_id = $1 AND state = 'pending' ORDER BY chunk_index LIMIT $2
		 ), moved AS (
		   UPDATE batch_chunks c SET state = 'active', task_id = COALESCE(c.task_id, gen_random_uuid())
		   FROM picked p WHERE c.batch_id = $1 AND c.chunk_index = p.chunk_index
		   RETURNING c.chunk_index, c.task_id, p.task_id IS NOT NULL AS rerun, p.items
		 ), b AS (
		   UPDATE batches SET chunks_pending = chunks_pending - (SELECT count(*) FROM moved),
		     chunks_active = chunks_active + (SELECT count(*) FROM moved),
		     next_release_at = GREATEST(now(), COALESCE(next_release_at, now()))
		       + make_interval(secs => delay_between_chunks_seconds * (SELECT count(*) FROM moved))
		   WHERE id = $1
		   RETURNING next_release_at - make_interval(secs => delay_between_chunks_seconds * (SELECT count(*) FROM moved)) AS base,
		     delay_between_chunks_seconds AS delay
		 )
		 SELECT m.chunk_index AS "chunkIndex", m.task_id AS "taskId", m.rerun, m.items,
		   b.base + make_interval(secs => b.delay * (row_number() OVER (ORDER BY m.chunk_index) - 1)) AS "dueAt"
		 FROM moved m, b ORDER BY m.chunk_index`,
		[batchId, limit],
	);
	return rows;
}

/** Gives a re-run chunk whose task no longer exists (discarded dead letter) a new task id. */
export async function replaceChunkTask(db: Queryable, batchId: string, chunkIndex: number, taskId: string): Promise<void> {
	await db.query('UPDATE batch_chunks SET task_id = $3 WHERE batch_id = $1 AND chunk_index = $2', [batchId, chunkIndex, taskId]);
}

/**
 * Settles the chunks of tasks that reached `completed` or `failed` and counts them on their
 * batches; returns the batches touched, as they are now. A completed chunk's items are dropped:
 * its task holds them, and it will not run again.
 */
/** A batch after chunks settled, with what this settlement added (for metrics). */
export type SettledBatch = BatchRow & { settled: { completed: number; failed: number; itemsCompleted: number; itemsFailed: number } };

export async function settleChunks(db: Queryable, tasks: readonly { id: string; state: string }[]): Promise<SettledBatch[]> {
	const { rows } = await db.query<SettledBatch>(
		`WITH moved AS (
		   UPDATE batch_chunks c SET state = x.state, items = CASE WHEN x.state = 'completed' THEN NULL ELSE c.items END
		   FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, state text)
		   WHERE c.task_id = x.id AND c.state = 'active' AND x.state IN ('completed', 'failed')
		   RETURNING c.batch_id, c.state, c.item_count
		 ), sums AS (
		   SELECT batch_id, count(*) FILTER (WHERE state = 'completed')::int AS cc, count(*) FILTER (WHERE state = 'failed')::int AS cf,
		     COALESCE(sum(item_count) FILTER (WHERE state = 'completed'), 0)::bigint AS ic,
		     COALESCE(sum(item_count) FILTER (WHERE state = 'failed'), 0)::bigint AS icf
		   FROM moved GROUP BY batch_id
		 )
		 UPDATE batches SET chunks_completed = chunks_completed + s.cc, chunks_failed = chunks_failed + s.cf,
		   chunks_active = chunks_active - s.cc - s.cf, items_processed = items_processed + s.ic, items_failed = items_failed + s.icf
		 FROM sums s WHERE batches.id = s.batch_id
		 RETURNING ${BATCH_COLUMNS},
		   json_build_object('completed', s.cc, 'failed', s.cf, 'itemsCompleted', s.ic, 'itemsFailed', s.icf) AS settled`,
		[JSON.stringify(tasks.map((t) => ({ id: t.id, state: t.state })))],
	);
	return rows;
}

/**
 * Chunks whose failed or cancelled task was put back in line from outside the batch (a dead-letter
 * redrive, a task retry) are active again; a finished batch runs again, so it will finish (and call
 * back) once more. Returns the batches touched.
 */
export async function reactivateChunks(db: Queryable, taskIds: readonly string[]): Promise<BatchRow[]> {
	const { rows } = await db.query<BatchRow>(
		`WITH moved AS (
		   UPDATE batch_chunks c SET state = 'active'
		   FROM batch_chunks old
		   WHERE c.task_id = ANY($1::uuid[]) AND c.state IN ('failed', 'cancelled')
		     AND old.batch_id = c.batch_id AND old.chunk_index = c.chunk_index
		   RETURNING c.batch_id, old.state AS was, c.item_count
		 ), sums AS (
		   SELECT batch_id, count(*)::int AS n, count(*) FILTER (WHERE was = 'failed')::int AS nf,
		     COALESCE(sum(item_count) FILTER (WHERE was = 'failed'), 0)::bigint AS icf
		   FROM moved GROUP BY batch_id
		 )
		 UPDATE batches SET chunks_active = chunks_active + s.n, chunks_failed = chunks_failed - s.nf,
		   chunks_cancelled = chunks_cancelled - (s.n - s.nf), items_failed = items_failed - s.icf,
		   state = CASE WHEN state IN ('completed', 'completed_with_failures', 'failed') THEN 'running' ELSE state END,
		   finished_at = CASE WHEN state IN ('completed', 'completed_with_failures', 'failed') THEN NULL ELSE finished_at END
		 FROM sums s WHERE batches.id = s.batch_id
		 RETURNING ${BATCH_COLUMNS}`,
		[taskIds],
	);
	return rows;
}

/** retry-failed: the batch's failed chunks go back to `pending` (keeping their tasks) and the batch runs again. */
export async function resetFailedChunks(db: Queryable, batchId: string): Promise<BatchRow | null> {
	const { rows } = await db.query<BatchRow>(
		`WITH moved AS (
		   UPDATE batch_chunks SET state = 'pending' WHERE batch_id = $1 AND state = 'failed'
		   RETURNING item_count
		 )
		 UPDATE batches SET chunks_pending = chunks_pending + (SELECT count(*) FROM moved),
		   chunks_failed = chunks_failed - (SELECT count(*) FROM moved),
		   items_failed = items_failed - (SELECT COALESCE(sum(item_count), 0) FROM moved),
		   state = 'running', finished_at = NULL
		 WHERE id = $1 AND EXISTS (SELECT 1 FROM moved)
		 RETURNING ${BATCH_COLUMNS}`,
		[batchId],
	);
	return rows[0] ?? null;
}

/** Cancels the chunks not yet released; returns how many. */
export async function cancelPendingChunks(db: Queryable, batchId: string): Promise<number> {
	const { rowCount } = await db.query(`UPDATE batch_chunks SET state = 'cancelled' WHERE batch_id = $1 AND state = 'pending'`, [batchId]);
	return rowCount ?? 0;
}

/** Tasks of the batch's released, unfinished chunks. */
export async function activeChunkTasks(db: Queryable, batchId: string): Promise<string[]> {
	const { rows } = await db.query<{ taskId: string }>(
		`SELECT task_id AS "taskId" FROM batch_chunks WHERE batch_id = $1 AND state = 'active' ORDER BY chunk_index`,
		[batchId],
	);
	return rows.map((r) => r.taskId);
}

/** Marks these released chunks cancelled (their tasks were cancelled before they started). */
export async function markChunksCancelled(db: Queryable, taskIds: readonly string[]): Promise<number> {
	if (taskIds.length === 0) return 0;
	const { rowCount } = await db.query(`UPDATE batch_chunks SET state = 'cancelled' WHERE task_id = ANY($1::uuid[]) AND state = 'active'`, [taskIds]);
	return rowCount ?? 0;
}

const LOST = `c.state = 'active' AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = c.task_id AND t.state <> 'cancelled')`;

/** Batches with released chunks whose task was cancelled (tasks API) or deleted outside the batch. */
export async function batchesWithLostChunks(db: Queryable, limit: number): Promise<string[]> {
	const { rows } = await db.query<{ id: string }>(`SELECT DISTINCT c.batch_id AS id FROM batch_chunks c WHERE ${LOST} LIMIT $1`, [limit]);
	return rows.map((r) => r.id);
}

/** The tasks of one batch's lost chunks (read under the batch's lock). */
export async function lostChunkTasks(db: Queryable, batchId: string): Promise<string[]> {
	const { rows } = await db.query<{ taskId: string }>(`SELECT c.task_id AS "taskId" FROM batch_chunks c WHERE c.batch_id = $1 AND ${LOST}`, [batchId]);
	return rows.map((r) => r.taskId);
}
