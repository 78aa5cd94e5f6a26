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
const EXPIRY_MARGIN_SECONDS = 120;

/**
 * Inserts the dispatch jobs of tasks waiting for their next attempt (new, retried, requeued,
 * released), grouped per queue, in the caller's transaction. The one place that maps a task to its
 * pg-boss job.
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
