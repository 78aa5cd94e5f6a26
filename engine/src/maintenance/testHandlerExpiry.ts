import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { notify } from '../db/notifications.js';
import { deleteExpiredTestHandlers } from '../queues/handlerSql.js';
import type { MaintenanceService } from './serviceLoop.js';

/** How often the expired test handlers are deleted. */
export const TEST_HANDLER_EXPIRY_INTERVAL_MS = 5000;

/**
 * Deletes test-mode handlers 120 s after their registration, by the database clock so
 * every engine agrees, and tells every engine's catalog. Nothing waits for it: a test handler past
 * its window is already left out of listings and cannot be claimed for a task (handlerSql.ts);
 * this removes the row, also when n8n never said that its editor stopped listening.
 */
export class TestHandlerExpiry implements MaintenanceService {
	readonly name = 'testHandlerExpiry';

	constructor(
		private readonly pool: Pool,
		private readonly schema: string,
	) {}

	async runOnce(): Promise<{ expired: number }> {
		return withTransaction(this.pool, async (tx) => {
			const queues = await deleteExpiredTestHandlers(tx);
			for (const queue of new Set(queues)) await notify(tx, this.schema, 'queues', queue);
			return { expired: queues.length };
		});
	}
}
