import type { Queryable } from '../db/pool.js';
import { BATCH_COLUMNS, type BatchRow } from '../batches/batchSql.js';
import { presentBatch, type BatchView } from '../batches/batchView.js';
import { listQueueNames, selectTaskFigures } from '../health/healthSql.js';

/**
 * The figures of the events that are computed, not logged: `queue.stats` and `batch.progress`.
 * The serving engine reads them while someone listens; they are never replayed.
 */

/** `queue.stats`: a queue's counts (as in its health: completed and failed over the last hour) and throughput. */
export interface QueueStats {
	queue: string;
	paused: boolean;
	counts: { scheduled: number; queued: number; active: number; retrying: number; completed: number; failed: number; cancelled: number };
	deadLetters: number;
	throughputPerMinute: { last5m: number; last60m: number };
}

/** The figures of `queues` (null: every queue), with the health statement: one index range per figure and queue. */
export async function readQueueStats(db: Queryable, queues: readonly string[] | null, stuckGraceSeconds: number): Promise<QueueStats[]> {
	const names = queues ?? (await listQueueNames(db));
	const figures = await selectTaskFigures(db, names, { windowSeconds: 3600, stuckGraceSeconds });
	return figures.map((t) => ({
		queue: t.queue,
		paused: t.paused,
		counts: { scheduled: t.scheduled, queued: t.queued, active: t.active, retrying: t.retrying, completed: t.completed, failed: t.failed, cancelled: t.cancelled },
		deadLetters: t.deadLetters,
		throughputPerMinute: { last5m: perMinute(t.completedLast5m, 5), last60m: perMinute(t.completedLast60m, 60) },
	}));
}

/** `batch.progress`: the batches as `GET /v1/batches/{id}` shows them (a deleted one is left out). */
export async function readBatchViews(db: Queryable, ids: readonly string[]): Promise<BatchView[]> {
	if (ids.length === 0) return [];
	const { rows } = await db.query<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM batches WHERE id = ANY($1::uuid[])`, [ids]);
	return rows.map(presentBatch);
}

function perMinute(count: number, minutes: number): number {
	return Math.round((count / minutes) * 100) / 100;
}
