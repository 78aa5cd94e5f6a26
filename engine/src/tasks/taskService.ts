import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { notify } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { conflict, notFound } from '../errors.js';
import type { CreatedAtPosition } from '../paging/createdAtKeyset.js';
import type { QueueRow } from '../queues/queueSql.js';
import { listAttempts, type AttemptRow } from './attemptSql.js';
import { conflictError, EnqueueWriter, prepareTask, type EnqueueInput, type EnqueueLimits } from './enqueue.js';
import { debounceLocks, enqueueDebounced, prepareDebounced, writeWithDebounce, type DebouncedTask, type DebounceResult } from './debounce.js';
import type { TaskState } from './states.js';
import type { TaskEvents } from './taskEvents.js';
import { cancelDispatchJobs, insertDispatchJobs } from './dispatchJobs.js';
import * as taskSql from './taskSql.js';
import type { NewTask } from './taskSql.js';
import type { TaskRow } from './taskSql.js';
import type { AttemptView, TaskView, TaskWithAttemptsView } from '../api/schemas/task.js';

export interface TaskServiceDeps {
	pool: Pool;
	dispatch: DispatchQueue;
	schema: string;
	limits: EnqueueLimits;
	/** The queue of a task: from the catalog, created on first use when configured so, else 404. */
	resolveQueue: (name: string, field: string) => Promise<QueueRow>;
	/**
	 * Called after tasks of a queue were written, to wake this engine's dispatcher at once.
	 * `handlerOnly`: every task written goes to the queue's handlers (none has its own URL).
	 */
	onEnqueued: (queue: string, handlerOnly?: boolean) => void;
	events: TaskEvents;
	/** Debug lines for the state changes made here (enqueue, cancel, retry, redrive). */
	log?: Logger;
}

/** The task as the API shows it (api/schemas/task.ts): with its attempts when they are given. */
export function presentTask(t: TaskRow): TaskView;
export function presentTask(t: TaskRow, attempts: AttemptRow[]): TaskWithAttemptsView;
export function presentTask(t: TaskRow, attempts?: AttemptRow[]): TaskView | TaskWithAttemptsView {
	return {
		id: t.id,
		queue: t.queue,
		name: t.name,
		state: t.state,
		payload: t.payload,
		priority: t.priority,
		retry: t.retry,
		timeoutSeconds: t.timeoutSeconds,
		maxAttempts: t.budgetBase + t.retry.limit + 1,
		dueAt: t.dueAt.toISOString(),
		createdAt: t.createdAt.toISOString(),
		startedAt: t.startedAt?.toISOString() ?? null,
		finishedAt: t.finishedAt?.toISOString() ?? null,
		attemptCount: t.attemptCount,
		...(attempts ? { attempts: attempts.map(presentAttempt) } : {}),
		result: t.result ?? null,
		lastError: t.lastError,
		deadlineAt: t.deadlineAt?.toISOString() ?? null,
		progress: t.progress ?? null,
		idempotencyKey: t.idempotencyKey,
		concurrencyKey: t.concurrencyKey,
		debounce: t.debounce,
		url: t.url,
		...(t.batch ? { batch: t.batch } : {}),
		...(t.schedule ? { schedule: t.schedule } : {}),
	} satisfies TaskView & { attempts?: AttemptView[] };
}

function presentAttempt(a: AttemptRow): AttemptView {
	return {
		number: a.number,
		startedAt: a.startedAt.toISOString(),
		durationMs: a.durationMs,
		outcome: a.outcome,
		statusCode: a.statusCode,
		errorClass: a.errorClass,
		error: a.error,
		responseSnippet: a.responseSnippet,
		handlerId: a.handlerId,
		report: a.report,
	};
}

export class TaskService {
	private readonly writer: EnqueueWriter;

	constructor(private readonly deps: TaskServiceDeps) {
		this.writer = new EnqueueWriter(deps.pool, deps.dispatch, deps.schema, deps.limits.idempotencyWindowSeconds);
	}

	/** `debounced` comes with an enqueue that carried `debounce`: whether it joined a group (tasks/debounce.ts). */
	async enqueue(input: EnqueueInput): Promise<{ task: TaskRow; created: boolean; debounced?: boolean }> {
		const queue = await this.deps.resolveQueue(input.queue, 'queue');
		const task = prepareTask(input, queue, this.deps.limits);
		const { pool, dispatch, schema, limits } = this.deps;
		const result = input.debounce
			? await enqueueDebounced(pool, dispatch, schema, prepareDebounced(input, input.debounce, task, limits), limits)
			: await this.writer.write(task);
		if ('conflict' in result) throw conflictError(result.conflict);
		const joined = 'debounced' in result && result.debounced;
		if (result.created || joined) {
			this.logChanges(joined ? 'task debounced' : 'task enqueued', [result.task]);
			this.deps.onEnqueued(input.queue, result.task.url === null);
		}
		return result;
	}

	/** All or nothing: one invalid item or idempotency conflict rejects the call and writes nothing. */
	async enqueueBulk(inputs: EnqueueInput[]): Promise<DebounceResult[]> {
		const queues = new Map<string, QueueRow>();
		const prepared: (NewTask | DebouncedTask)[] = [];
		for (const [i, input] of inputs.entries()) {
			let queue = queues.get(input.queue);
			if (!queue) queues.set(input.queue, (queue = await this.deps.resolveQueue(input.queue, `tasks[${i}].queue`)));
			const task = prepareTask(input, queue, this.deps.limits, `tasks[${i}].`);
			prepared.push(input.debounce ? prepareDebounced(input, input.debounce, task, this.deps.limits, `tasks[${i}].`) : task);
		}
		const results = await withTransaction(
			this.deps.pool,
			async (tx) => {
				const written = await writeWithDebounce(tx, this.deps.dispatch, this.deps.schema, prepared, this.deps.limits, (i) => `tasks[${i}].`);
				const conflicts = written.flatMap((r) => ('conflict' in r ? [r.conflict] : []));
				if (conflicts.length > 0) throw conflictError(conflicts[0], conflicts.slice(1));
				return written as DebounceResult[];
			},
			{ advisoryLocks: debounceLocks(this.deps.schema, prepared) },
		);
		this.logChanges('task enqueued', results.filter((r) => r.created).map((r) => r.task));
		for (const queue of queues.keys()) this.deps.onEnqueued(queue);
		return results;
	}

	async get(id: string): Promise<{ task: TaskRow; attempts: AttemptRow[] }> {
		const task = await taskSql.getTask(this.deps.pool, id);
		if (!task) throw notFound('Task', id);
		return { task, attempts: await listAttempts(this.deps.pool, id) };
	}

	async list(filter: { queue?: string; state?: TaskState; name?: string; idempotencyKey?: string; after: CreatedAtPosition | null; limit: number }) {
		const rows = await taskSql.listTasks(this.deps.pool, { ...filter, limit: filter.limit + 1 });
		const items = rows.slice(0, filter.limit);
		const last = items[items.length - 1];
		return { items, next: rows.length > filter.limit ? { micros: last.positionMicros, id: last.id } : null };
	}

	/** Cancels a task that has not started (queued, scheduled or waiting to retry); 409 otherwise. */
	async cancel(id: string): Promise<TaskRow> {
		const task = await withTransaction(this.deps.pool, async (tx) => {
			const current = await taskSql.getTask(tx, id, true);
			if (!current) throw notFound('Task', id);
			const cancelled = await taskSql.cancelTask(tx, id);
			if (!cancelled) {
				throw conflict('task_not_cancellable', `Task ${id} is ${current.state}; only queued, scheduled or retrying tasks can be cancelled`, [
					{ field: 'id', message: `task is ${current.state}` },
				]);
			}
			await cancelDispatchJobs(tx, this.deps.dispatch, [cancelled]);
			return cancelled;
		});
		this.logChanges('task cancelled', [task]);
		return task;
	}

	/** Runs a failed or cancelled task again now, with a fresh attempt budget; 409 in any other state. */
	async retry(id: string): Promise<TaskRow> {
		const [task] = await this.requeue([id], (current) => {
			throw conflict('task_not_retryable', `Task ${id} is ${current.state}; only failed or cancelled tasks can be retried`, [
				{ field: 'id', message: `task is ${current.state}` },
			]);
		});
		return task;
	}

	/** Requeues failed/cancelled tasks (retry, dead-letter redrive). Others are passed to `onOther` or skipped. */
	async requeue(ids: readonly string[], onOther?: (task: TaskRow) => void): Promise<TaskRow[]> {
		const moved = await withTransaction(this.deps.pool, async (tx) => {
			if (onOther && ids.length === 1) {
				const current = await taskSql.getTask(tx, ids[0], true);
				if (!current) throw notFound('Task', ids[0]);
				if (current.state !== 'failed' && current.state !== 'cancelled') onOther(current);
			}
			const rows = await taskSql.requeueTasks(tx, ids, ids.map(() => randomUUID()));
			await this.deps.events.requeuedIn(tx, rows.map((t) => ({ id: t.id, queue: t.queue, state: t.state, batchId: t.batch?.id ?? null })));
			await insertDispatchJobs(tx, this.deps.dispatch, rows);
			for (const queue of new Set(rows.map((t) => t.queue))) await notify(tx, this.deps.schema, 'tasks', queue);
			return rows;
		});
		this.logChanges('task requeued', moved);
		for (const queue of new Set(moved.map((t) => t.queue))) this.deps.onEnqueued(queue);
		return moved;
	}

	private logChanges(message: string, tasks: readonly TaskRow[]): void {
		const log = this.deps.log;
		if (!log?.isLevelEnabled('debug')) return;
		for (const t of tasks) log.debug({ taskId: t.id, queue: t.queue, state: t.state, attempt: t.attemptCount, dueAt: t.dueAt }, message);
	}
}

