import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { settleAttempts } from '../delivery/settlement.js';
import { findLostDeliveries } from '../tasks/taskSql.js';
import type { MaintenanceService } from './serviceLoop.js';
import type { TaskEvents } from '../tasks/taskEvents.js';

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
			for (const t of lost) log?.warn({ taskId: t.id, queue: t.queue, attempt: t.attemptCount, engineId: t.engineId }, 'delivery lost; settling it as a lost attempt');
			return settleAttempts(
				tx,
				this.dispatch,
				this.options.schema,
				lost.map((task) => ({
					task,
					startedAt: task.startedAt ?? new Date(),
					outcome: { kind: 'lost' as const, error: 'delivery lost: the engine stopped or the attempt outlived its lease' },
					handlerId: null,
				})),
				events,
			);
		});
		const rescued = counts.retrying + counts.failed;
		this.rescuedTotal += rescued;
		return { rescued, retrying: counts.retrying, failed: counts.failed };
	}
}
