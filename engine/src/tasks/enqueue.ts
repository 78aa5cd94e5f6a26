import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Pool, Queryable } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { channelName } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { conflict, DomainError, invalidField, type FieldProblem } from '../errors.js';
import { checkTargetUrl } from '../delivery/targetUrl.js';
import type { TargetPolicy } from '../delivery/targetPolicy.js';
import type { QueueRow } from '../queues/queueSql.js';
import { priorityValue, resolvePolicy, type PartialRetryPolicy, type PriorityName } from './policy.js';
import { insertDispatchJobs } from './dispatchJobs.js';
import { findByIdempotencyKeys, insertTasks, type NewTask, type TaskRow } from './taskSql.js';

/** A task as a client sends it (`POST /v1/tasks`, one item of a bulk). */
export interface EnqueueInput {
	queue: string;
	name: string;
	payload?: unknown;
	url?: string;
	delaySeconds?: number;
	runAt?: string;
	priority?: PriorityName | number;
	idempotencyKey?: string;
	retry?: PartialRetryPolicy;
	timeoutSeconds?: number;
}

export interface EnqueueLimits {
	payloadLimitBytes: number;
	maxRunAtDays: number;
	idempotencyWindowSeconds: number;
	/** Where a task's own URL may point (TARGET_ALLOW and the always-refused addresses). */
	targetPolicy: TargetPolicy;
}

/** Checks what the schema cannot and resolves the policy; `prefix` is `tasks[3].` inside a bulk. */
export function prepareTask(input: EnqueueInput, queue: QueueRow, limits: EnqueueLimits, prefix = ''): NewTask {
	if (input.delaySeconds !== undefined && input.runAt !== undefined) {
		throw invalidField(`${prefix}runAt`, 'cannot be combined with delaySeconds; give one of them');
	}
	let runAt: string | null = null;
	if (input.runAt !== undefined) {
		const at = Date.parse(input.runAt);
		if (Number.isNaN(at)) throw invalidField(`${prefix}runAt`, 'must be an ISO 8601 date-time');
		if (at - Date.now() > limits.maxRunAtDays * 86400_000) {
			throw invalidField(`${prefix}runAt`, `must be at most ${limits.maxRunAtDays} days ahead`);
		}
		runAt = new Date(at).toISOString();
	}
	if (input.delaySeconds !== undefined && input.delaySeconds > limits.maxRunAtDays * 86400) {
		throw invalidField(`${prefix}delaySeconds`, `must be at most ${limits.maxRunAtDays} days`);
	}
	const payload = input.payload === undefined ? {} : input.payload;
	const size = Buffer.byteLength(JSON.stringify(payload));
	if (size > limits.payloadLimitBytes) {
		const field = `${prefix}payload`;
		const message = `${field} is ${size} bytes; the limit is ${limits.payloadLimitBytes}`;
		throw new DomainError(413, 'payload_too_large', message, [{ field, message }]);
	}
	const url = input.url === undefined ? null : checkTargetUrl(input.url, `${prefix}url`, limits.targetPolicy);
	const policy = resolvePolicy(
		{ priority: priorityValue(input.priority), retry: input.retry, timeoutSeconds: input.timeoutSeconds },
		queue,
	);
	if (policy.retry.maxDelaySeconds < policy.retry.delaySeconds) {
		throw invalidField(`${prefix}retry.maxDelaySeconds`, 'must not be below retry.delaySeconds');
	}
	return {
		id: randomUUID(),
		jobId: randomUUID(),
		queue: input.queue,
		name: input.name,
		payload,
		priority: policy.priority,
		retry: policy.retry,
		timeoutSeconds: policy.timeoutSeconds,
		url,
		idempotencyKey: input.idempotencyKey ?? null,
		delaySeconds: input.delaySeconds ?? null,
		runAt,
	};
}

/** The answer for one enqueued task: the task, and whether this call created it (false: idempotent repeat). */
export type EnqueueResult = { task: TaskRow; created: boolean } | { conflict: FieldProblem };

/**
 * Writes tasks and their dispatch jobs in the caller's transaction. A task whose idempotency key is
 * already held answers with the holder (same name and payload) or a conflict.
 */
export async function writeTasks(
	db: Queryable,
	dispatch: DispatchQueue,
	schema: string,
	tasks: readonly NewTask[],
	idempotencyWindowSeconds: number,
	fieldOf: (index: number) => string,
): Promise<EnqueueResult[]> {
	const inserted = await insertTasks(db, tasks, idempotencyWindowSeconds, channelName(schema, 'tasks'));
	const byId = new Map(inserted.map((t) => [t.id, t]));
	const skipped = tasks.filter((t) => !byId.has(t.id));
	const holders = await findByIdempotencyKeys(
		db,
		skipped.map((t) => ({ queue: t.queue, key: t.idempotencyKey as string })),
	);
	const holderOf = new Map(holders.map((h) => [`${h.queue}\u0000${h.idempotencyKey}`, h]));

	await insertDispatchJobs(db, dispatch, inserted);

	return tasks.map((t, index) => {
		const created = byId.get(t.id);
		if (created) return { task: created, created: true };
		const holder = holderOf.get(`${t.queue}\u0000${t.idempotencyKey}`);
		if (holder && holder.name === t.name && isDeepStrictEqual(holder.payload, t.payload)) return { task: holder, created: false };
		const field = `${fieldOf(index)}idempotencyKey`;
		return {
			conflict: {
				field,
				message: `${field} "${t.idempotencyKey}" is already used by task ${holder?.id ?? '(unknown)'} with a different name or payload`,
			},
		};
	});
}

/**
 * Group commit for single enqueues: requests that arrive while a write is in flight share the next
 * transaction. A 201 still means committed; concurrent clients just share the commit's cost, which
 * is how one HTTP enqueue can beat a raw `send()` per task.
 */
export class EnqueueWriter {
	private pending: { task: NewTask; done: (result: EnqueueResult | Error) => void }[] = [];
	private writing = 0;
	private readonly maxParallel = 2;
	private readonly maxBatch = 500;

	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly schema: string,
		private readonly idempotencyWindowSeconds: number,
	) {}

	write(task: NewTask): Promise<EnqueueResult> {
		return new Promise((resolve, reject) => {
			this.pending.push({ task, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
			this.flush();
		});
	}

	private flush(): void {
		if (this.writing >= this.maxParallel || this.pending.length === 0) return;
		const batch = this.pending.splice(0, this.maxBatch);
		this.writing += 1;
		this.writeBatch(batch)
			.catch(async () => {
				// One bad task (its queue deleted a moment ago, say) must not fail its neighbours:
				// write each on its own so only the culprit sees the error.
				for (const item of batch) {
					await this.writeBatch([item]).catch((error: unknown) => item.done(asError(error)));
				}
			})
			.finally(() => {
				this.writing -= 1;
				this.flush();
			});
	}

	private async writeBatch(batch: { task: NewTask; done: (result: EnqueueResult | Error) => void }[]): Promise<void> {
		const results = await withTransaction(this.pool, (tx) =>
			writeTasks(tx, this.dispatch, this.schema, batch.map((b) => b.task), this.idempotencyWindowSeconds, () => ''),
		);
		results.forEach((r, i) => batch[i].done(r));
	}
}

function asError(error: unknown): Error {
	if (error instanceof Error && (error as { code?: string }).code === '23503') {
		return new DomainError(404, 'queue_not_found', 'The queue was deleted while the task was being written', [
			{ field: 'queue', message: 'queue does not exist' },
		]);
	}
	return error instanceof Error ? error : new Error(String(error));
}

/** Turns a conflict result into the 409 the API answers. */
export function conflictError(problem: FieldProblem, others: FieldProblem[] = []): DomainError {
	return conflict('idempotency_conflict', problem.message, [problem, ...others]);
}
