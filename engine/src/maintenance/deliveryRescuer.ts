import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { settleAttempts, type AttemptResult } from '../delivery/settlement.js';
import { findLostDeliveries, type TaskRow } from '../tasks/taskSql.js';
import type { MaintenanceService } from './serviceLoop.js';
import type { TaskEvents } from '../tasks/taskEvents.js';
import { sweepKeys } from '../flowControl/keySql.js';

export interface RescuerOptions {
	schema: string;
	engineDeadAfterSeconds: number;
	/** The engine running this rescuer: alive, so its deliveries are lost only when their lease runs out. */
	ownEngineId?: string;
	/**
	 * Whether this engine may judge other engines dead by their heartbeat now. After this engine could
	 * not reach the database itself, every engine's heartbeat is old (they lost it too): judging them
	 * before they had a chance to beat again would retry their live deliveries.
	 */
	mayJudgeEngines?: () => boolean;
	/** Whether a task's delivery is under way in this process (or its result is waiting to be written). */
	isInFlightHere?: (taskId: string) => boolean;
	events?: TaskEvents;
	log?: Logger;
	batchSize?: number;
}

/**
 * Finds deliveries nobody will finish — their lease (timeout + grace) ran out, or their engine
 * stopped heartbeating — and settles them as lost attempts (`errorClass: "lost"`): retried with
 * backoff while the budget lasts, dead-lettered after. Delivery is therefore at least once.
 */
export class DeliveryRescuer implements MaintenanceService {
	readonly name = 'deliveryRescuer';
	/** Total rescued by this process, for health and metrics. */
	rescuedTotal = 0;
	/** Async attempts among them that ended at their deadline (no report from the handler). */
	missedDeadlinesTotal = 0;

	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly options: RescuerOptions,
	) {}

	async runOnce(): Promise<Record<string, number>> {
		const { events, log, isInFlightHere } = this.options;
		const counts = await withTransaction(this.pool, async (tx) => {
			const found = await findLostDeliveries(tx, {
				engineDeadAfterSeconds: this.options.engineDeadAfterSeconds,
				limit: this.options.batchSize ?? 500,
				ownEngineId: this.options.ownEngineId ?? null,
				judgeEngines: this.options.mayJudgeEngines?.() ?? true,
			});
			// Still being delivered here, or its result is about to be written (after a database outage).
			const lost = isInFlightHere ? found.filter((t) => !isInFlightHere(t.id)) : found;
			this.missedDeadlinesTotal += lost.filter((t) => t.deadlineAt !== null).length;
			for (const t of lost) {
				if (t.deadlineAt) log?.warn({ taskId: t.id, queue: t.queue, attempt: t.attemptCount, deadlineAt: t.deadlineAt }, 'async attempt missed its deadline; settling it as a timeout');
				else log?.warn({ taskId: t.id, queue: t.queue, attempt: t.attemptCount, engineId: t.engineId }, 'delivery lost; settling it as a lost attempt');
			}
			return settleAttempts(
				tx,
				this.dispatch,
				this.options.schema,
				lost.map((task) => ({ task, startedAt: task.startedAt ?? new Date(), outcome: lostOutcome(task), handlerId: null })),
				events,
			);
		});
		const rescued = counts.retrying + counts.failed;
		this.rescuedTotal += rescued;
		// Keys whose parked tasks lost their wake-up in a race (flowControl/keySql.ts) are woken here.
		const keysWoken = await sweepKeys(this.pool);
		return { rescued, retrying: counts.retrying, failed: counts.failed, keysWoken };
	}
}

/**
 * What a rescued attempt is recorded as: an async attempt (the handler answered 202) whose deadline
 * passed without a report timed out; any other was lost with its engine or its lease.
 */
function lostOutcome(task: TaskRow): AttemptResult['outcome'] {
	if (task.deadlineAt === null) return { kind: 'lost', error: 'delivery lost: the engine stopped or the attempt outlived its lease' };
	return {
		kind: 'retry',
		statusCode: 202,
		errorClass: 'timeout',
		error: `no report from the handler before the attempt's deadline (${task.deadlineAt.toISOString()})`,
		durationMs: task.startedAt ? Date.now() - task.startedAt.getTime() : 0,
		responseSnippet: null,
	};
}
