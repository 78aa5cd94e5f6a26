import { randomUUID } from 'node:crypto';
import type { Pool, Queryable } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { notify } from '../db/notifications.js';
import { dispatchLock } from '../delivery/dispatchLock.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { DomainError, invalidField } from '../errors.js';
import { cancelDispatchJobs, insertDispatchJobs } from './dispatchJobs.js';
import { conflictError, writeTasks, type EnqueueInput, type EnqueueLimits, type EnqueueResult } from './enqueue.js';
import { closeGroup, findOpenGroup, joinGroup, lockGroupTask, type DebounceGroup, type DebounceMode } from './debounceSql.js';
import type { NewTask, TaskRow } from './taskSql.js';

/**
 * Debounce (docs/flow-control.md#debounce): enqueues of one queue with the same key
 * fold into one task while it has not started. The first opens a *group* (a new task, due
 * `seconds` from now); each later one joins it — moves its due time and replaces or collects its
 * payload — instead of creating a task.
 *
 * Exactness across engines: the enqueues of a group take turns on an advisory lock named after it;
 * a join also takes the queue's dispatch lock before it locks the task, so a claim is either done
 * with the task (then the join finds it started and opens the next group) or has not looked at it
 * yet (then it finds only the task's new job). The old job is cancelled in the same transaction.
 */

/** `debounce` as a client sends it. */
export interface DebounceInput {
	key: string;
	/** The task runs this long after the group's last enqueue (0 < seconds ≤ 86,400). */
	seconds: number;
	mode?: DebounceMode;
	/** …but at the latest this long after its first (≥ seconds, ≤ 86,400). */
	maxWaitSeconds?: number;
}

/** A debounced enqueue, checked and ready to write. */
export interface DebouncedTask {
	/** The task it opens a group with, carrying the group; in `collect` mode its payload is `{ items: [payload] }`. */
	opening: NewTask;
	/** Its group: the key it joins by, and the mode and longest wait a group it opens keeps. */
	group: DebounceGroup;
	/** Its own payload: a joined task's new payload (`replace`) or its next item (`collect`). */
	item: unknown;
	seconds: number;
	/** Where it sits in the request (`tasks[3].` inside a bulk), for the fields errors name. */
	prefix: string;
}

/** What a debounced or plain enqueue answers: `debounced` says whether it joined a group. */
export type DebounceResult = { task: TaskRow; created: boolean; debounced: boolean };

const isDebounced = (t: NewTask | DebouncedTask): t is DebouncedTask => 'opening' in t;

/** Checks what the schema cannot, on top of `prepareTask`'s checks of the same input. */
export function prepareDebounced(input: EnqueueInput, debounce: DebounceInput, task: NewTask, limits: EnqueueLimits, prefix = ''): DebouncedTask {
	const { key, seconds, mode = 'replace', maxWaitSeconds } = debounce;
	if (input.delaySeconds !== undefined || input.runAt !== undefined) {
		throw invalidField(`${prefix}debounce`, 'cannot be combined with delaySeconds or runAt: the debounce decides when the task runs');
	}
	// Refused rather than combined: a repeated key would have to answer with a task whose payload
	// later joins changed, and "same payload or 409" has no clear meaning for a group.
	if (input.idempotencyKey !== undefined) {
		throw invalidField(`${prefix}debounce`, 'cannot be combined with idempotencyKey: the debounce key already folds repeated enqueues into one task');
	}
	if (maxWaitSeconds !== undefined && maxWaitSeconds < seconds) {
		throw invalidField(`${prefix}debounce.maxWaitSeconds`, `must be at least debounce.seconds (${seconds})`);
	}
	const payload = mode === 'collect' ? { items: [task.payload] } : task.payload;
	const size = Buffer.byteLength(JSON.stringify(payload));
	if (size > limits.payloadLimitBytes) {
		const field = `${prefix}payload`;
		const message = `${field} is ${size} bytes as the first of a collect group ({ items: [payload] }); the limit is ${limits.payloadLimitBytes}`;
		throw new DomainError(413, 'payload_too_large', message, [{ field, message }]);
	}
	const group: DebounceGroup = { key, mode, maxWaitSeconds: maxWaitSeconds ?? null };
	return {
		// Not due now, so it does not join its concurrency key's line of parked tasks at enqueue.
		opening: { ...task, payload, delaySeconds: seconds, keyLimited: false, debounce: group },
		group,
		item: task.payload,
		seconds,
		prefix,
	};
}

/** The advisory lock the enqueues of one group take turns on. */
export function debounceLock(schema: string, queue: string, key: string): string {
	return `task-engine:debounce:${schema}:${queue}:${key}`;
}

/** Writes one debounced enqueue in a transaction of its own. */
export function enqueueDebounced(pool: Pool, dispatch: DispatchQueue, schema: string, d: DebouncedTask, limits: EnqueueLimits): Promise<DebounceResult> {
	const lock = debounceLock(schema, d.opening.queue, d.group.key);
	return withTransaction(pool, (tx) => writeDebounced(tx, dispatch, schema, d, limits), { advisoryLocks: [lock] });
}

/** The locks a bulk write of `tasks` must take at BEGIN: the group lock of each debounced one. */
export function debounceLocks(schema: string, tasks: readonly (NewTask | DebouncedTask)[]): string[] {
	return tasks.filter(isDebounced).map((d) => debounceLock(schema, d.opening.queue, d.group.key));
}

/**
 * Writes a bulk's tasks, plain and debounced, in the caller's transaction, which holds
 * `debounceLocks(tasks)`. Debounced items are written in order, so later ones join the groups that
 * earlier ones opened; every item shows its task as the whole write left it.
 */
export async function writeWithDebounce(
	tx: Queryable,
	dispatch: DispatchQueue,
	schema: string,
	tasks: readonly (NewTask | DebouncedTask)[],
	limits: EnqueueLimits,
	fieldOf: (index: number) => string,
): Promise<(DebounceResult | Extract<EnqueueResult, { conflict: unknown }>)[]> {
	const plainAt = tasks.flatMap((t, i) => (isDebounced(t) ? [] : [i]));
	const plain = await writeTasks(tx, dispatch, schema, plainAt.map((i) => tasks[i] as NewTask), limits.idempotencyWindowSeconds, (j) => fieldOf(plainAt[j]));
	const results: (DebounceResult | Extract<EnqueueResult, { conflict: unknown }>)[] = [];
	plainAt.forEach((i, j) => {
		const r = plain[j];
		results[i] = 'conflict' in r ? r : { ...r, debounced: false };
	});
	// Dispatch locks after the group locks and before any task is locked, in the order of a single join.
	for (const queue of [...new Set(tasks.filter(isDebounced).map((d) => d.opening.queue))].sort()) {
		await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [dispatchLock(schema, queue)]);
	}
	for (const [i, t] of tasks.entries()) if (isDebounced(t)) results[i] = await writeDebounced(tx, dispatch, schema, t, limits);
	const latest = new Map<string, TaskRow>();
	for (const r of results) if (!('conflict' in r)) latest.set(r.task.id, r.task);
	return results.map((r) => ('conflict' in r ? r : { ...r, task: latest.get(r.task.id) as TaskRow }));
}

/**
 * Joins the open group of the task's queue and key when its task has not started (and, in
 * `collect` mode, the new item fits under the payload limit); otherwise closes that group and
 * opens a new one. The caller's transaction holds the group's lock.
 */
async function writeDebounced(tx: Queryable, dispatch: DispatchQueue, schema: string, d: DebouncedTask, limits: EnqueueLimits): Promise<DebounceResult> {
	const queue = d.opening.queue;
	const open = await findOpenGroup(tx, queue, d.group.key, dispatchLock(schema, queue));
	if (open !== null) {
		// Locked only while it looks joinable; a claim may still have taken it before the lock came.
		const group = open.waiting ? await lockGroupTask(tx, open.id) : null;
		if (group && notStarted(group.task) && (group.mode === 'replace' || collectedSize(group.task.payload, d.item) <= limits.payloadLimitBytes)) {
			const joined = await joinGroup(tx, open.id, d.item, d.seconds, group.parked ? null : randomUUID());
			// A parked task has no job: the claim gives it one when its key wakes, due at its due time.
			if (!group.parked) {
				await cancelDispatchJobs(tx, dispatch, [group.task]);
				await insertDispatchJobs(tx, dispatch, [joined]);
			}
			// The due time may have moved closer: the engines re-time their look at the queue.
			await notify(tx, schema, 'tasks', queue);
			return { task: joined, created: false, debounced: true };
		}
		await closeGroup(tx, open.id);
	}
	const [opened] = await writeTasks(tx, dispatch, schema, [d.opening], limits.idempotencyWindowSeconds, () => d.prefix);
	if ('conflict' in opened) throw conflictError(opened.conflict);
	return { ...opened, debounced: false };
}

/** Waiting for its first attempt: a retry, a redriven dead letter or a task under way is not joined. */
const notStarted = (t: TaskRow) => (t.state === 'queued' || t.state === 'scheduled') && t.attemptCount === 0;

/** The size of a collect payload `{ items: [...] }` once `item` is appended, as the enqueue limit measures it. */
function collectedSize(payload: unknown, item: unknown): number {
	return Buffer.byteLength(JSON.stringify(payload)) + 1 + Buffer.byteLength(JSON.stringify(item));
}
