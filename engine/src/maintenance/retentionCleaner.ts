import type { Logger } from '../log.js';
import type { Queryable } from '../db/pool.js';
import type { MaintenanceService } from './serviceLoop.js';

export interface RetentionPolicy {
	/** Completed (and cancelled) tasks are deleted this many days after they finished. */
	completedDays: number;
	/** Dead letters (failed tasks) are deleted this many days after they failed. */
	failedDays: number;
	/** Tasks deleted per statement; a run repeats full batches up to `maxBatchesPerRun` per state. */
	batchSize?: number;
	maxBatchesPerRun?: number;
}

/** Where purges are counted (EngineMetrics). */
export interface RetentionMetrics {
	retentionPurged(state: string, count: number): void;
}

type FinalState = 'completed' | 'cancelled' | 'failed';

/**
 * Deletes old final tasks so the tables do not grow without bound: completed and cancelled ones
 * after RETENTION_COMPLETED_DAYS, dead letters after RETENTION_FAILED_DAYS. Their attempts go with
 * them (ON DELETE CASCADE). Work is bounded per run (batches of `batchSize`, oldest first, per
 * queue through the `tasks_finished` index); rows another engine is deleting are skipped, not
 * waited for. A task whose idempotency key is still inside its window is kept until the window
 * ends, so a repeated enqueue still finds the original.
 */
export class RetentionCleaner implements MaintenanceService {
	readonly name = 'retentionCleaner';
	private readonly batchSize: number;
	private readonly maxBatchesPerRun: number;

	constructor(
		private readonly db: Queryable,
		private readonly policy: RetentionPolicy,
		private readonly log: Logger,
		private readonly metrics?: RetentionMetrics,
	) {
		this.batchSize = policy.batchSize ?? 1000;
		this.maxBatchesPerRun = policy.maxBatchesPerRun ?? 20;
	}

	/** `now` defaults to the database clock; tests pass a later instant instead of waiting days. */
	async runOnce(now?: Date): Promise<Record<FinalState | 'batches', number>> {
		const days: Record<FinalState, number> = { completed: this.policy.completedDays, cancelled: this.policy.completedDays, failed: this.policy.failedDays };
		const counts: Record<FinalState, number> = { completed: 0, cancelled: 0, failed: 0 };
		for (const state of ['completed', 'cancelled', 'failed'] as const) {
			for (let batch = 0; batch < this.maxBatchesPerRun; batch++) {
				const byQueue = await purgeFinishedTasks(this.db, { state, olderThanDays: days[state], now: now ?? null, limit: this.batchSize });
				const purged = [...byQueue.values()].reduce((n, c) => n + c, 0);
				if (purged === 0) break;
				counts[state] += purged;
				this.metrics?.retentionPurged(state, purged);
				this.log.info({ state, purged, olderThanDays: days[state], queues: Object.fromEntries(byQueue) }, 'retention purged old tasks');
				if (purged < this.batchSize) break;
			}
		}
		const batches = await purgeFinishedBatches(this.db, { completedDays: this.policy.completedDays, failedDays: this.policy.failedDays, now: now ?? null, limit: this.batchSize });
		if (batches > 0) this.log.info({ batches }, 'retention purged old batches');
		return { ...counts, batches };
	}
}

/**
 * Deletes finished batches (their chunks cascade) once they are as old as the tasks they made: a
 * fully completed or cancelled batch after the completed-task retention, one with failed chunks
 * after the dead-letter retention, so `retry-failed` works as long as its dead letters exist.
 */
export async function purgeFinishedBatches(
	db: Queryable,
	o: { completedDays: number; failedDays: number; now: Date | null; limit: number },
): Promise<number> {
	const { rowCount } = await db.query(
		`DELETE FROM batches WHERE id IN (
		   SELECT id FROM batches
		   WHERE finished_at < COALESCE($1::timestamptz, now())
		     - make_interval(days => CASE WHEN state IN ('completed', 'cancelled') THEN $2::int ELSE $3::int END)
		   ORDER BY finished_at LIMIT $4
		   FOR UPDATE SKIP LOCKED
		 )`,
		[o.now?.toISOString() ?? null, o.completedDays, o.failedDays, o.limit],
	);
	return rowCount ?? 0;
}

/** Deletes up to `limit` tasks in `state` that finished more than `olderThanDays` before `now`; counts per queue. */
export async function purgeFinishedTasks(
	db: Queryable,
	o: { state: FinalState; olderThanDays: number; now: Date | null; limit: number },
): Promise<Map<string, number>> {
	const { rows } = await db.query<{ queue: string; n: number }>(
		`WITH doomed AS (
		   SELECT x.id FROM queues q
		   CROSS JOIN LATERAL (
		     SELECT t.id FROM tasks t
		     WHERE t.queue = q.name AND t.state = $1
		       AND t.finished_at < COALESCE($2::timestamptz, now()) - make_interval(days => $3)
		       AND (t.idempotency_expires_at IS NULL OR t.idempotency_expires_at <= COALESCE($2::timestamptz, now()))
		     ORDER BY t.finished_at
		     LIMIT $4
		     FOR UPDATE SKIP LOCKED
		   ) x
		   LIMIT $4
		 ), deleted AS (
		   DELETE FROM tasks t USING doomed d WHERE t.id = d.id RETURNING t.queue
		 )
		 SELECT queue, count(*)::int AS n FROM deleted GROUP BY queue ORDER BY queue`,
		[o.state, o.now?.toISOString() ?? null, o.olderThanDays, o.limit],
	);
	return new Map(rows.map((r) => [r.queue, r.n]));
}
