import type { Queryable } from '../db/pool.js';
import { beforePositionSql, createdAtMicrosSql, type CreatedAtPosition } from '../paging/createdAtKeyset.js';
import type { RetryPolicy } from '../delivery/retryPolicy.js';

/**
 * A batch's states (README, "Batches"), mirrored by the CHECK on `batches.state`, and which module moves a
 * batch out of each.
 */
export const BatchState = {
	/** Taking items (`POST /v1/batches/{id}/items`); nothing is delivered. `start` → `running`, `cancel` → `cancelled`. */
	open: 'open',
	/** Chunks are being released and delivered. When none is pending or active: a final state (batchProgress.ts). */
	running: 'running',
	/** Every chunk completed. */
	completed: 'completed',
	/** Some chunks failed, some completed. `retry-failed` (or a redrive of a chunk) → `running`. */
	completed_with_failures: 'completed_with_failures',
	/** Every chunk that ran failed. `retry-failed` → `running`. */
	failed: 'failed',
	/** Cancelled: no more chunks start; those being delivered still finish and are counted. Final. */
	cancelled: 'cancelled',
} as const;
export type BatchState = (typeof BatchState)[keyof typeof BatchState];
export const BATCH_STATES = Object.values(BatchState);

export interface BatchRow {
	id: string;
	queue: string;
	name: string;
	state: BatchState;
	payload: Record<string, unknown>;
	url: string | null;
	priority: number;
	retry: RetryPolicy;
	timeoutSeconds: number;
	callbackUrl: string | null;
	chunkSize: number;
	concurrency: number;
	delayBetweenChunksSeconds: number;
	totalItems: number;
	totalChunks: number;
	itemsProcessed: number;
	itemsFailed: number;
	chunksPending: number;
	chunksActive: number;
	chunksCompleted: number;
	chunksFailed: number;
	chunksCancelled: number;
	runs: number;
	createdAt: Date;
	startedAt: Date | null;
	finishedAt: Date | null;
	/** Seconds from start to finish (or to now, by the database clock); null before the start. */
	elapsedSeconds: number | null;
}

export const BATCH_COLUMNS = `id, queue, name, state, payload, url, priority, retry, timeout_seconds AS "timeoutSeconds",
  callback_url AS "callbackUrl", chunk_size AS "chunkSize", concurrency, delay_between_chunks_seconds AS "delayBetweenChunksSeconds",
  total_items AS "totalItems", total_chunks AS "totalChunks", items_processed AS "itemsProcessed", items_failed AS "itemsFailed",
  chunks_pending AS "chunksPending", chunks_active AS "chunksActive", chunks_completed AS "chunksCompleted",
  chunks_failed AS "chunksFailed", chunks_cancelled AS "chunksCancelled", runs,
  created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt",
  extract(epoch FROM COALESCE(finished_at, now()) - started_at)::float8 AS "elapsedSeconds"`;

export interface NewBatch {
	id: string;
	queue: string;
	name: string;
	payload: Record<string, unknown>;
	url: string | null;
	priority: number;
	retry: RetryPolicy;
	timeoutSeconds: number;
	callbackUrl: string | null;
	chunkSize: number;
	concurrency: number;
	delayBetweenChunksSeconds: number;
}

export async function insertBatch(db: Queryable, b: NewBatch): Promise<BatchRow> {
	const { rows } = await db.query<BatchRow>(
		`INSERT INTO batches (id, queue, name, state, payload, url, priority, retry, timeout_seconds, callback_url, chunk_size,
		   concurrency, delay_between_chunks_seconds)
		 VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, $9, $10, $11, $12)
		 RETURNING ${BATCH_COLUMNS}`,
		[b.id, b.queue, b.name, b.payload, b.url, b.priority, b.retry, b.timeoutSeconds, b.callbackUrl, b.chunkSize, b.concurrency, b.delayBetweenChunksSeconds],
	);
	return rows[0];
}

export async function getBatch(db: Queryable, id: string, forUpdate = false): Promise<BatchRow | null> {
	const { rows } = await db.query<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [id]);
	return rows[0] ?? null;
}

/**
 * Locks batches in id order. Settlement transactions touch several batches at once; taking their
 * locks in one order keeps two engines settling chunks of the same batches from deadlocking.
 */
export async function lockBatches(db: Queryable, ids: readonly string[]): Promise<void> {
	await db.query('SELECT 1 FROM batches WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [ids]);
}

export interface BatchFilter {
	queue?: string;
	state?: BatchState;
	after?: CreatedAtPosition | null;
	limit: number;
}

/** Newest first, keyset-paged on (created_at, id); each row carries its exact position (`positionMicros`). */
export async function listBatches(db: Queryable, f: BatchFilter): Promise<(BatchRow & { positionMicros: string })[]> {
	const { rows } = await db.query<BatchRow & { positionMicros: string }>(
		`SELECT ${BATCH_COLUMNS}, ${createdAtMicrosSql('created_at')} AS "positionMicros" FROM batches
		 WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR state = $2)
		   AND ${beforePositionSql('created_at', 'id', '$3', '$4')}
		 ORDER BY created_at DESC, id DESC
		 LIMIT $5`,
		[f.queue ?? null, f.state ?? null, f.after?.micros ?? null, f.after?.id ?? null, f.limit],
	);
	return rows;
}

/** Counts `added` more items; chunks are recounted from the item total (the last one may have grown). */
export async function addItemTotals(db: Queryable, id: string, added: number): Promise<BatchRow> {
	const { rows } = await db.query<BatchRow>(
		`UPDATE batches SET total_items = total_items + $2,
		   total_chunks = ((total_items + $2 + chunk_size - 1) / chunk_size)::int,
		   chunks_pending = chunks_pending + ((total_items + $2 + chunk_size - 1) / chunk_size)::int - total_chunks
		 WHERE id = $1
		 RETURNING ${BATCH_COLUMNS}`,
		[id, added],
	);
	return rows[0];
}

export async function startBatch(db: Queryable, id: string): Promise<BatchRow | null> {
	const { rows } = await db.query<BatchRow>(
		`UPDATE batches SET state = 'running', started_at = now() WHERE id = $1 AND state = 'open' RETURNING ${BATCH_COLUMNS}`,
		[id],
	);
	return rows[0] ?? null;
}

/**
 * The one transition out of `running` into a final state, once every chunk is final. Guarded, so
 * however many transactions see the last chunk finish, one of them finishes the batch (and sends
 * its callback).
 */
export async function finishBatch(db: Queryable, id: string): Promise<BatchRow | null> {
	const { rows } = await db.query<BatchRow>(
		`UPDATE batches SET finished_at = now(), runs = runs + 1,
		   state = CASE WHEN chunks_failed = 0 THEN 'completed' WHEN chunks_completed = 0 THEN 'failed' ELSE 'completed_with_failures' END
		 WHERE id = $1 AND state = 'running' AND chunks_pending = 0 AND chunks_active = 0
		 RETURNING ${BATCH_COLUMNS}`,
		[id],
	);
	return rows[0] ?? null;
}

/** Cancels an open or running batch whose `pending` not-yet-released and `released` not-yet-started chunks were cancelled. */
export async function cancelBatch(db: Queryable, id: string, pending: number, released: number): Promise<BatchRow | null> {
	const { rows } = await db.query<BatchRow>(
		`UPDATE batches SET state = 'cancelled', finished_at = now(), chunks_pending = chunks_pending - $2,
		   chunks_active = chunks_active - $3, chunks_cancelled = chunks_cancelled + $2 + $3
		 WHERE id = $1 AND state IN ('open', 'running')
		 RETURNING ${BATCH_COLUMNS}`,
		[id, pending, released],
	);
	return rows[0] ?? null;
}
