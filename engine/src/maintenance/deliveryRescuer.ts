import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { settleAttempts } from '../delivery/settlement.js';
import { findLostDeliveries } from '../tasks/taskSql.js';
import type { MaintenanceService } from './serviceLoop.js';
import type { TaskEvents } from '../tasks/taskEvents.js';

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
		private readonly schema: string,
		private readonly engineDeadAfterSeconds: number,
		private readonly events?: TaskEvents,
		private readonly log?: Logger,
		private readonly batchSize = 500,
	) {}

	async runOnce(): Promise<Record<string, number>> {
		const counts = await withTransaction(this.pool, async (tx) => {
			const lost = await findLostDeliveries(tx, this.engineDeadAfterSeconds, this.batchSize);
			for (const t of lost) this.log?.warn({ taskId: t.id, queue: t.queue, attempt: t.attemptCount, engineId: t.engineId }, 'delivery lost; settling it as a lost attempt');
			return settleAttempts(
				tx,
				this.dispatch,
				this.schema,
				lost.map((task) => ({
					task,
					startedAt: task.startedAt ?? new Date(),
					outcome: { kind: 'lost' as const, error: 'delivery lost: the engine stopped or the attempt outlived its lease' },
					handlerId: null,
				})),
				this.events,
			);
		});
		const rescued = counts.retrying + counts.failed;
		this.rescuedTotal += rescued;
		return { rescued, retrying: counts.retrying, failed: counts.failed };
	}
}
