import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Pool, Queryable } from '../db/pool.js';
import { pipelinedTransaction, withTransaction } from '../db/pool.js';
import { GroupCommit, type Waiting } from '../db/groupCommit.js';
import { channelName } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { conflict, DomainError, invalidField, type FieldProblem } from '../errors.js';
import { checkTargetUrl } from '../delivery/targetUrl.js';
import type { TargetPolicy } from '../delivery/targetPolicy.js';
import type { QueueRow } from '../queues/queueSql.js';
import { priorityValue, resolvePolicy, type PartialRetryPolicy, type PriorityName } from './policy.js';
import { findByIdempotencyKeys, insertTasks, type NewTask, type TaskRow } from './taskSql.js';
import { keysWithLines, lineId } from '../flowControl/keySql.js';
import type { DebounceInput } from './debounce.js';

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
	/** How long an attempt answered with 202 may wait for the handler's report (docs/async-completion.md). */
	asyncTimeoutSeconds?: number;
	/** Tasks sharing a key obey the queue's `keyConcurrency` and `keyRateLimit`. */
	concurrencyKey?: string;
	/** Fold enqueues with this key into one task while it waits (tasks/debounce.ts). */
	debounce?: DebounceInput;
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
		asyncTimeoutSeconds: input.asyncTimeoutSeconds ?? null,
		concurrencyKey: input.concurrencyKey ?? null,
		// Due now, keyed, and its queue limits keys: it may have to join its key's line (writeTasks).
		keyLimited:
			input.concurrencyKey !== undefined &&
			input.delaySeconds === undefined &&
			runAt === null &&
			(queue.keyConcurrency !== null || queue.keyRateLimitMax !== null),
	};
}

const NO_LINES: ReadonlySet<string> = new Set();

/**
 * Whether `writeTasks` writes these tasks with its one insert and nothing else: no idempotency key
 * (released keys are updated before the insert, taken ones looked up after it) and no key-limited
 * task (its key's line is read before). Then it sends that statement before it first awaits, as a
 * pipelined transaction requires (db/pool.ts).
 */
function writtenInOneStatement(tasks: readonly NewTask[]): boolean {
	return tasks.every((t) => t.idempotencyKey === null && !t.keyLimited);
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
	// A newcomer does not overtake the tasks parked behind its key: it joins their line, without a job.
	// Nothing is awaited when no task is key-limited (the usual case), so that the insert below is
	// sent at once and leaves with the transaction's BEGIN (db/pool.ts, withTransaction).
	const limited = tasks.filter((t) => t.keyLimited);
	const lines = limited.length === 0 ? NO_LINES : await keysWithLines(db, limited.map((t) => ({ queue: t.queue, key: t.concurrencyKey as string })));
	const toInsert = lines.size === 0 ? tasks : tasks.map((t) => (t.keyLimited && lines.has(lineId(t.queue, t.concurrencyKey as string)) ? { ...t, parked: true } : t));
	// The tasks and their first dispatch jobs (none for a parked task), in one statement.
	const inserted = await insertTasks(db, dispatch.jobs, toInsert, idempotencyWindowSeconds, channelName(schema, 'tasks'));
	const byId = new Map(inserted.map((t) => [t.id, t]));
	const skipped = tasks.filter((t) => !byId.has(t.id));
	const holders = await findByIdempotencyKeys(
		db,
		skipped.map((t) => ({ queue: t.queue, key: t.idempotencyKey as string })),
	);
	const holderOf = new Map(holders.map((h) => [`${h.queue}\u0000${h.idempotencyKey}`, h]));


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
 * Group commit for single enqueues (db/groupCommit.ts): requests that arrive while a write is in
 * flight share the next transaction. A 201 still means committed; concurrent clients just share the
 * commit's cost, which is how one HTTP enqueue can beat a raw `send()` per task.
 */
export class EnqueueWriter {
	private readonly commits: GroupCommit<NewTask, EnqueueResult>;

	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly schema: string,
		private readonly idempotencyWindowSeconds: number,
	) {
		this.commits = new GroupCommit({ maxParallel: 2, maxGroup: 500, write: (group) => this.writeGroup(group) });
	}

	write(task: NewTask): Promise<EnqueueResult> {
		return this.commits.add(task);
	}

	private async writeGroup(group: Waiting<NewTask, EnqueueResult>[]): Promise<void> {
		try {
			await this.writeTogether(group);
		} catch {
			// One bad task (its queue deleted a moment ago, say) must not fail its neighbours:
			// write each on its own so only the culprit sees the error.
			for (const w of group) await this.writeTogether([w]).catch((error: unknown) => w.reject(asError(error)));
		}
	}

	private async writeTogether(group: Waiting<NewTask, EnqueueResult>[]): Promise<void> {
		const tasks = group.map((w) => w.item);
		const write = (tx: Queryable) => writeTasks(tx, this.dispatch, this.schema, tasks, this.idempotencyWindowSeconds, () => '');
		// The usual group: BEGIN, the insert and COMMIT leave in one write and are answered in one round trip.
		const results = await (writtenInOneStatement(tasks) ? pipelinedTransaction(this.pool, write) : withTransaction(this.pool, write));
		results.forEach((r, i) => group[i].resolve(r));
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
