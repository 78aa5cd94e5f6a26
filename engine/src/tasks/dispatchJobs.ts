import type { Queryable } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import type { TaskRow } from './taskSql.js';

/** What a task's next dispatch needs from it. */
export type Dispatchable = Pick<TaskRow, 'id' | 'queue' | 'jobId' | 'priority' | 'dueAt' | 'timeoutSeconds' | 'url' | 'event'>;

/**
 * pg-boss expires an active job only this long after the attempt's timeout: by then the engine's
 * own lease (timeout + LEASE_GRACE_SECONDS) has let the rescuer act, so pg-boss's expiry is a
 * backstop that never races it.
 */
export const EXPIRY_MARGIN_SECONDS = 120;

/**
 * The one owner of the pairing between a task row and its pg-boss dispatch job: every module that
 * gives a task a job, closes a job whose attempt is over, or withdraws a task's job goes through
 * these three functions, in the caller's transaction — except the three hot-path statements that
 * change a job together with its task row, from the fragments of dispatch/jobSql.ts: the insert of
 * new tasks with their first jobs (tasks/taskSql.ts), the claim's fetch-and-activate
 * (tasks/claimSql.ts) and settlement's statement, which closes the job an attempt was claimed with
 * (tasks/settleSql.ts). `tasks.job_id` names the job carrying the task's
 * next or current dispatch.
 */

/**
 * Inserts the dispatch jobs of tasks waiting for their next attempt (new, retried, requeued,
 * released, woken from their key's line), grouped per queue.
 */
export async function insertDispatchJobs(db: Queryable, dispatch: DispatchQueue, tasks: readonly Dispatchable[]): Promise<void> {
	const byQueue = new Map<string, Dispatchable[]>();
	for (const t of tasks) {
		const list = byQueue.get(t.queue);
		if (list) list.push(t);
		else byQueue.set(t.queue, [t]);
	}
	for (const [queue, list] of byQueue) {
		await dispatch.insert(
			db,
			queue,
			list.map((t) => ({
				id: t.jobId as string,
				taskId: t.id,
				priority: t.priority,
				dueAt: t.dueAt,
				expireInSeconds: t.timeoutSeconds + EXPIRY_MARGIN_SECONDS,
				handlerEvent: t.url === null ? t.event : null,
			})),
		);
	}
}

/** A task's job, as the pairing knows it. */
export interface PairedJob {
	queue: string;
	jobId: string | null;
}

/** Closes the jobs whose attempt is over (settled) or whose task no longer waits on them (the claim's leftovers). */
export async function completeDispatchJobs(db: Queryable, dispatch: DispatchQueue, jobs: readonly PairedJob[]): Promise<void> {
	for (const [queue, ids] of byQueue(jobs)) await dispatch.complete(db, queue, ids);
}

/** Withdraws the jobs of tasks that must not run (cancelled, withdrawn, or re-timed by a debounce join). */
export async function cancelDispatchJobs(db: Queryable, dispatch: DispatchQueue, jobs: readonly PairedJob[]): Promise<void> {
	for (const [queue, ids] of byQueue(jobs)) await dispatch.cancel(db, queue, ids);
}

function byQueue(jobs: readonly PairedJob[]): Map<string, string[]> {
	const map = new Map<string, string[]>();
	for (const j of jobs) {
		if (j.jobId === null) continue;
		const list = map.get(j.queue);
		if (list) list.push(j.jobId);
		else map.set(j.queue, [j.jobId]);
	}
	return map;
}
