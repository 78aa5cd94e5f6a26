import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue, HandlerEvent } from '../dispatch/dispatchQueue.js';
import type { QueueRow } from '../queues/queueSql.js';
import { returnRatePermits, secondsUntilRateWindowEnds, takeRatePermits } from '../queues/queueSql.js';
import { activateTasks, countActive, secondsUntilNextDue, type TaskRow } from '../tasks/taskSql.js';

export interface ClaimResult {
	tasks: TaskRow[];
	/** Why fewer than asked were claimed, and when to look again (ms, database clock); null = on notification. */
	retryInMs: number | null;
	/** The queue's concurrency limit is what stopped the claim (wake when one of its deliveries ends). */
	atConcurrencyLimit: boolean;
}

/**
 * Claims up to `wanted` due tasks of one queue for this engine, in one transaction holding the
 * queue's advisory lock: engines take turns per queue, so the concurrency limit (deliveries in
 * flight across every engine) and the shared rate limit are exact, not approximate.
 */
export async function claimDueTasks(
	pool: Pool,
	dispatch: DispatchQueue,
	opts: { schema: string; queue: QueueRow; wanted: number; handlerEvents: HandlerEvent[]; engineId: string; leaseGraceSeconds: number },
): Promise<ClaimResult> {
	const { queue } = opts;
	return withTransaction(pool, async (tx) => {
		await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`task-engine:dispatch:${opts.schema}:${queue.name}`]);
		const active = await countActive(tx, queue.name);
		const free = queue.concurrency - active;
		let limit = Math.min(opts.wanted, free);
		if (limit <= 0) return { tasks: [], retryInMs: null, atConcurrencyLimit: true };

		let permits = limit;
		if (queue.rateLimitMax !== null) {
			permits = await takeRatePermits(tx, queue.name, limit);
			if (permits === 0) {
				const wait = await secondsUntilRateWindowEnds(tx, queue.name);
				return { tasks: [], retryInMs: Math.max(1, Math.ceil(wait * 1000)), atConcurrencyLimit: false };
			}
			limit = permits;
		}

		const jobs = await dispatch.fetch(tx, queue.name, limit, opts.handlerEvents);
		if (queue.rateLimitMax !== null) await returnRatePermits(tx, queue.name, permits - jobs.length);
		const tasks = await activateTasks(tx, jobs, opts.engineId, opts.leaseGraceSeconds);
		// A job whose task is no longer waiting on it (cancelled, redriven, deleted) is closed here.
		const taken = new Set(tasks.map((t) => t.jobId));
		await dispatch.complete(tx, queue.name, jobs.filter((j) => !taken.has(j.jobId)).map((j) => j.jobId));

		let retryInMs: number | null = null;
		if (jobs.length < limit) {
			const seconds = await secondsUntilNextDue(tx, queue.name);
			if (seconds !== null) retryInMs = Math.max(1, Math.ceil(seconds * 1000));
		}
		return { tasks, retryInMs, atConcurrencyLimit: false };
	});
}
