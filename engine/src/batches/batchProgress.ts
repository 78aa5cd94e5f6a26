import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import { notify } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { DomainError } from '../errors.js';
import { listHandlers } from '../queues/handlerSql.js';
import { getQueue } from '../queues/queueSql.js';
import { prepareTask, writeTasks, type EnqueueLimits } from '../tasks/enqueue.js';
import { insertDispatchJobs, type Dispatchable } from '../tasks/dispatchJobs.js';
import { requeueTasks, type NewTask } from '../tasks/taskSql.js';
import { finishBatch, type BatchRow } from './batchSql.js';
import { presentBatch } from './batchView.js';
import { releaseChunks, replaceChunkTask, type ReleasedChunk } from './chunkSql.js';

/** Chunks turned into tasks per statement: bounds the items held in memory while releasing. */
const RELEASE_GROUP = 20;

/** The name of the completion tasks (callback and batch event). */
export const BATCH_FINISHED_TASK = 'batch.finished';

/**
 * Moves a batch on, inside the caller's transaction (which holds the batch's lock): releases chunks
 * while fewer than `concurrency` are in flight, and when none is pending or in flight, finishes the
 * batch and enqueues its completion callback and batch event. Called when a batch starts, when its
 * chunks finish (from the settling transaction) and when its failed chunks are retried; the
 * dispatcher itself knows nothing of batches.
 */
export class BatchProgress {
	constructor(
		private readonly dispatch: DispatchQueue,
		private readonly schema: string,
		private readonly limits: EnqueueLimits,
		/** Told of each batch run that finishes (metrics). */
		private readonly onBatchFinished: (queue: string, state: string) => void = () => undefined,
	) {}

	async advance(db: Queryable, batch: BatchRow): Promise<void> {
		if (batch.state !== 'running') return;
		let pending = batch.chunksPending;
		let active = batch.chunksActive;
		while (pending > 0 && active < batch.concurrency) {
			const released = await releaseChunks(db, batch.id, Math.min(batch.concurrency - active, pending, RELEASE_GROUP));
			if (released.length === 0) break;
			await this.writeChunkTasks(db, batch, released);
			pending -= released.length;
			active += released.length;
		}
		if (pending === 0 && active === 0) await this.finish(db, batch.id);
	}

	private async writeChunkTasks(db: Queryable, batch: BatchRow, released: ReleasedChunk[]): Promise<void> {
		const fresh = released.filter((c) => !c.rerun);
		const reruns = released.filter((c) => c.rerun);
		if (reruns.length > 0) {
			const moved = await this.requeueChunkTasks(db, batch, reruns);
			// A re-run whose task is gone (its dead letter was discarded) gets a new task.
			for (const c of reruns.filter((r) => !moved.has(r.taskId))) {
				c.taskId = randomUUID();
				await replaceChunkTask(db, batch.id, c.chunkIndex, c.taskId);
				fresh.push(c);
			}
		}
		if (fresh.length === 0) return;
		const tasks: NewTask[] = fresh.map((c) => ({
			id: c.taskId,
			jobId: randomUUID(),
			queue: batch.queue,
			name: batch.name,
			payload: { ...batch.payload, items: c.items },
			priority: batch.priority,
			retry: batch.retry,
			timeoutSeconds: batch.timeoutSeconds,
			url: batch.url,
			idempotencyKey: null,
			delaySeconds: null,
			runAt: c.dueAt.toISOString(),
			batch: { id: batch.id, chunkIndex: c.chunkIndex, totalChunks: batch.totalChunks },
		}));
		await writeTasks(db, this.dispatch, this.schema, tasks, this.limits.idempotencyWindowSeconds, () => '');
	}

	/** Same task ids, fresh attempt budgets, due when the batch's spacing says. Returns the ids moved. */
	private async requeueChunkTasks(db: Queryable, batch: BatchRow, reruns: ReleasedChunk[]): Promise<Set<string>> {
		// Spacing applies to re-runs as to first runs: each is due no earlier than its chunk's slot.
		const moved: Dispatchable[] = await requeueTasks(
			db,
			reruns.map((c) => c.taskId),
			reruns.map(() => randomUUID()),
			reruns.map((c) => (batch.delayBetweenChunksSeconds > 0 ? c.dueAt : null)),
		);
		await insertDispatchJobs(db, this.dispatch, moved);
		if (moved.length > 0) await notify(db, this.schema, 'tasks', batch.queue);
		return new Set(moved.map((t) => t.id));
	}

	/**
	 * Finishes the batch if it is done (guarded: exactly once per run) and enqueues what announces it:
	 * a delivery to `callbackUrl` (signed with the queue's secret, retried like any task) and, when the
	 * queue has production handlers for batch events, a batch event for them.
	 */
	private async finish(db: Queryable, batchId: string): Promise<void> {
		const finished = await finishBatch(db, batchId);
		if (!finished) return;
		this.onBatchFinished(finished.queue, finished.state);
		const queue = await getQueue(db, finished.queue);
		if (!queue) return;
		const payload = { batch: presentBatch(finished) };
		const tasks: NewTask[] = [];
		if (finished.callbackUrl !== null) {
			try {
				tasks.push(prepareTask({ queue: queue.name, name: BATCH_FINISHED_TASK, payload, url: finished.callbackUrl }, queue, this.limits));
			} catch (error) {
				// The URL was checked when the batch was created; only a narrowed TARGET_ALLOW can
				// reject it now. Throwing would undo the settlement of the last chunk, again and again.
				if (!(error instanceof DomainError)) throw error;
			}
		}
		const handlers = await listHandlers(db, queue.name);
		if (handlers.some((h) => h.mode === 'production' && h.events.includes('batch'))) {
			tasks.push({ ...prepareTask({ queue: queue.name, name: BATCH_FINISHED_TASK, payload }, queue, this.limits), event: 'batch' });
		}
		if (tasks.length > 0) await writeTasks(db, this.dispatch, this.schema, tasks, this.limits.idempotencyWindowSeconds, () => '');
	}
}
