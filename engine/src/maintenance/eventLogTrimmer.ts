import type { Queryable } from '../db/pool.js';
import { trimEventLog } from '../events/eventLogSql.js';
import type { MaintenanceService } from './serviceLoop.js';

/** How often the trimmer runs: the log holds the window plus at most this much. */
export const EVENT_LOG_TRIM_INTERVAL_MS = 30_000;

/**
 * Keeps the event log (`task_events`) to the resume window of the live event stream: rows older
 * than `windowSeconds` are deleted, oldest first, in bounded batches, and the log's horizon is
 * raised so a resume from before it starts with `event: reset`. One engine trims at a time (the
 * others skip their run). `runOnce(now)` takes a later instant in tests instead of waiting.
 */
export class EventLogTrimmer implements MaintenanceService {
	readonly name = 'eventLogTrimmer';

	constructor(
		private readonly db: Queryable,
		private readonly windowSeconds: number,
		private readonly batchSize = 20_000,
		private readonly maxBatchesPerRun = 50,
	) {}

	async runOnce(now?: Date): Promise<Record<string, number>> {
		let trimmed = 0;
		for (let batch = 0; batch < this.maxBatchesPerRun; batch++) {
			const deleted = await trimEventLog(this.db, now ?? null, this.windowSeconds, this.batchSize);
			trimmed += deleted;
			if (deleted < this.batchSize) break;
		}
		return { trimmed };
	}
}
