import type { OriginMetrics } from '../metrics/engineMetrics.js';
import { randomUUID } from 'node:crypto';
import type { Pool, Queryable } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { cancelDispatchJobs } from '../tasks/dispatchJobs.js';
import { conflict, DomainError, invalidField, notFound } from '../errors.js';
import { checkTargetUrl } from '../delivery/targetUrl.js';
import type { CreatedAtPosition } from '../paging/createdAtKeyset.js';
import type { QueueRow } from '../queues/queueSql.js';
import { prepareTask, type EnqueueLimits } from '../tasks/enqueue.js';
import type { PartialRetryPolicy, PriorityName } from '../tasks/policy.js';
import type { TaskChange, TaskEvents } from '../tasks/taskEvents.js';
import { cancelTask } from '../tasks/taskSql.js';
import * as batchSql from './batchSql.js';
import type { BatchRow, BatchState } from './batchSql.js';
import { BatchProgress } from './batchProgress.js';
import * as chunkSql from './chunkSql.js';

/** `POST /v1/batches` as a client sends it. */
export interface BatchInput {
	queue: string;
	name: string;
	items?: unknown[];
	chunkSize: number;
	concurrency?: number;
	delayBetweenChunksSeconds?: number;
	url?: string;
	callbackUrl?: string;
	payload?: Record<string, unknown>;
	open?: boolean;
	priority?: PriorityName | number;
	retry?: PartialRetryPolicy;
	timeoutSeconds?: number;
}

export interface BatchServiceDeps {
	pool: Pool;
	dispatch: DispatchQueue;
	schema: string;
	limits: EnqueueLimits;
	/** The batch's queue; 404 naming `field` when it does not exist. */
	resolveQueue: (name: string, field: string) => Promise<QueueRow>;
	/** Called after a batch's tasks were committed, to wake this engine's dispatcher at once. */
	onEnqueued: (queue: string) => void;
	/** Task lifecycle hooks: chunk results are counted in the transaction that settles them. */
	events: TaskEvents;
}

const RETRYABLE: readonly BatchState[] = ['running', 'completed_with_failures', 'failed'];

/**
 * Batches (README, "Batches"): items split into chunks, each chunk a task. Items are stored as chunks when
 * they arrive; chunks become tasks as they are released (see BatchProgress). Counters change only
 * inside the transactions that move chunks, so reading a batch is reading one row.
 */
export class BatchService {
	private metrics: OriginMetrics | undefined;
	private readonly progress: BatchProgress;

	constructor(private readonly deps: BatchServiceDeps) {
		this.progress = new BatchProgress(deps.dispatch, deps.schema, deps.limits, (queue, state) => this.metrics?.batchFinished(queue, state));
		deps.events.onFinished((db, tasks) => this.onChunksFinished(db, tasks), (task) => task.batchId !== null);
		deps.events.onRequeued((db, tasks) => this.onChunksRequeued(db, tasks));
	}

	async create(input: BatchInput): Promise<BatchRow> {
		const queue = await this.deps.resolveQueue(input.queue, 'queue');
		const open = input.open ?? false;
		if (!open && (input.items === undefined || input.items.length === 0)) {
			throw invalidField('items', input.items === undefined ? 'is required unless open is true' : 'must not be empty');
		}
		const payload = input.payload ?? {};
		if ('items' in payload) throw invalidField('payload.items', "is reserved: each chunk's items are delivered there");
		// The chunk tasks' template: validates url and policy fields and resolves them against the queue now.
		const template = prepareTask(
			{ queue: input.queue, name: input.name, payload, url: input.url, priority: input.priority, retry: input.retry, timeoutSeconds: input.timeoutSeconds },
			queue,
			this.deps.limits,
		);
		const callbackUrl = input.callbackUrl === undefined ? null : checkTargetUrl(input.callbackUrl, 'callbackUrl', this.deps.limits.targetPolicy);
		const batch = await withTransaction(this.deps.pool, async (tx) => {
			let row = await batchSql.insertBatch(tx, {
				id: randomUUID(),
				queue: queue.name,
				name: input.name,
				payload,
				url: template.url,
				priority: template.priority,
				retry: template.retry,
				timeoutSeconds: template.timeoutSeconds,
				callbackUrl,
				chunkSize: input.chunkSize,
				concurrency: input.concurrency ?? 1,
				delayBetweenChunksSeconds: input.delayBetweenChunksSeconds ?? 0,
			});
			if (input.items && input.items.length > 0) row = await this.append(tx, row, input.items);
			return open ? row : this.startIn(tx, row);
		});
		if (!open) this.deps.onEnqueued(batch.queue);
		return batch;
	}

	/** Adds a page of items to an open batch; 409 once it has started. */
	async addItems(id: string, items: unknown[]): Promise<BatchRow> {
		return withTransaction(this.deps.pool, async (tx) => {
			const batch = await this.lock(tx, id);
			if (batch.state !== 'open') {
				throw conflict('batch_not_open', `Batch ${id} is ${batch.state}; items can only be added to an open batch`, [{ field: 'items', message: `batch is ${batch.state}` }]);
			}
			return this.append(tx, batch, items);
		});
	}

	async start(id: string): Promise<BatchRow> {
		const batch = await withTransaction(this.deps.pool, async (tx) => {
			const current = await this.lock(tx, id);
			if (current.state !== 'open') {
				throw conflict('batch_not_open', `Batch ${id} is ${current.state}; only an open batch can be started`, [{ field: 'id', message: `batch is ${current.state}` }]);
			}
			if (current.totalItems === 0) {
				throw conflict('batch_empty', `Batch ${id} has no items; add items before starting it`, [{ field: 'items', message: 'items must not be empty' }]);
			}
			return this.startIn(tx, current);
		});
		this.deps.onEnqueued(batch.queue);
		return batch;
	}

	/**
	 * Stops an open or running batch: chunks not released are cancelled, and so are released chunks
	 * whose task has not started (queued, scheduled or waiting to retry); chunks being delivered finish
	 * and are still counted. No completion callback follows.
	 */
	async cancel(id: string): Promise<BatchRow> {
		return withTransaction(this.deps.pool, async (tx) => {
			const batch = await this.lock(tx, id);
			if (batch.state !== 'open' && batch.state !== 'running') {
				throw conflict('batch_not_cancellable', `Batch ${id} is ${batch.state}; only open or running batches can be cancelled`, [{ field: 'id', message: `batch is ${batch.state}` }]);
			}
			const pending = await chunkSql.cancelPendingChunks(tx, id);
			const stopped: string[] = [];
			for (const taskId of await chunkSql.activeChunkTasks(tx, id)) {
				const task = await cancelTask(tx, taskId);
				if (!task) continue;
				await cancelDispatchJobs(tx, this.deps.dispatch, [task]);
				stopped.push(task.id);
			}
			const released = await chunkSql.markChunksCancelled(tx, stopped);
			return (await batchSql.cancelBatch(tx, id, pending, released)) as BatchRow;
		});
	}

	/** Runs the failed chunks again (same tasks, fresh attempt budgets); the batch finishes and calls back again. */
	async retryFailed(id: string): Promise<BatchRow> {
		const batch = await withTransaction(this.deps.pool, async (tx) => {
			const current = await this.lock(tx, id);
			const reset = RETRYABLE.includes(current.state) ? await chunkSql.resetFailedChunks(tx, id) : null;
			if (!reset) {
				throw conflict('batch_not_retryable', `Batch ${id} is ${current.state} with ${current.chunksFailed} failed chunks; nothing to retry`, [
					{ field: 'id', message: `batch is ${current.state} with ${current.chunksFailed} failed chunks` },
				]);
			}
			return this.advanceIn(tx, reset);
		});
		this.deps.onEnqueued(batch.queue);
		return batch;
	}

	async get(id: string): Promise<BatchRow> {
		const batch = await batchSql.getBatch(this.deps.pool, id);
		if (!batch) throw notFound('Batch', id);
		return batch;
	}

	async list(filter: { queue?: string; state?: BatchState; after: CreatedAtPosition | null; limit: number }) {
		const rows = await batchSql.listBatches(this.deps.pool, { ...filter, limit: filter.limit + 1 });
		const items = rows.slice(0, filter.limit);
		const last = items[items.length - 1];
		return { items, next: rows.length > filter.limit ? { micros: last.positionMicros, id: last.id } : null };
	}

	/**
	 * A released chunk whose task was cancelled through the tasks API (or deleted) would keep its batch
	 * running forever: count it as failed, so the batch finishes and retry-failed can run it again.
	 * A MaintenanceService run by a ServiceLoop; the hooks cover every other way a chunk ends.
	 */
	async reconcileOnce(): Promise<Record<string, number>> {
		let failed = 0;
		for (const id of await chunkSql.batchesWithLostChunks(this.deps.pool, 100)) {
			failed += await withTransaction(this.deps.pool, async (tx) => {
				await batchSql.lockBatches(tx, [id]);
				const lost = await chunkSql.lostChunkTasks(tx, id);
				for (const batch of await chunkSql.settleChunks(tx, lost.map((taskId) => ({ id: taskId, state: 'failed' })))) await this.progress.advance(tx, batch);
				return lost.length;
			});
		}
		return { failed };
	}

	private async lock(tx: Queryable, id: string): Promise<BatchRow> {
		const batch = await batchSql.getBatch(tx, id, true);
		if (!batch) throw notFound('Batch', id);
		return batch;
	}

	private async append(tx: Queryable, batch: BatchRow, items: unknown[]): Promise<BatchRow> {
		const bytes = await chunkSql.appendChunkItems(tx, batch, items);
		const limit = this.deps.limits.payloadLimitBytes;
		if (bytes > limit) {
			const message = `chunkSize ${batch.chunkSize} makes a chunk payload of about ${bytes} bytes; the task payload limit is ${limit}: use a smaller chunkSize`;
			throw new DomainError(413, 'payload_too_large', message, [{ field: 'chunkSize', message }]);
		}
		return batchSql.addItemTotals(tx, batch.id, items.length);
	}

	private async startIn(tx: Queryable, batch: BatchRow): Promise<BatchRow> {
		return this.advanceIn(tx, (await batchSql.startBatch(tx, batch.id)) as BatchRow);
	}

	private async advanceIn(tx: Queryable, batch: BatchRow): Promise<BatchRow> {
		await this.progress.advance(tx, batch);
		return (await batchSql.getBatch(tx, batch.id)) as BatchRow;
	}

	/** Where chunk and batch results are counted (`/metrics`); set once at start-up. */
	reportTo(metrics: OriginMetrics): void {
		this.metrics = metrics;
	}

	/** onFinished hook, in the settling transaction: count the chunks, release the next ones, finish. */
	private async onChunksFinished(db: Queryable, tasks: TaskChange[]): Promise<void> {
		const chunks = tasks.filter((t) => t.batchId !== null);
		if (chunks.length === 0) return;
		await batchSql.lockBatches(db, [...new Set(chunks.map((t) => t.batchId as string))]);
		for (const batch of await chunkSql.settleChunks(db, chunks)) {
			this.metrics?.batchChunksFinished(batch.queue, 'completed', batch.settled.completed, batch.settled.itemsCompleted);
			this.metrics?.batchChunksFinished(batch.queue, 'failed', batch.settled.failed, batch.settled.itemsFailed);
			await this.progress.advance(db, batch);
		}
	}

	/** onRequeued hook: a failed chunk put back in line from outside (redrive, task retry) is active again. */
	private async onChunksRequeued(db: Queryable, tasks: TaskChange[]): Promise<void> {
		const chunks = tasks.filter((t) => t.batchId !== null);
		if (chunks.length === 0) return;
		await batchSql.lockBatches(db, [...new Set(chunks.map((t) => t.batchId as string))]);
		await chunkSql.reactivateChunks(db, chunks.map((t) => t.id));
	}
}
