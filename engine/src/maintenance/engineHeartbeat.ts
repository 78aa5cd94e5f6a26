import os from 'node:os';
import type { Pool } from '../db/pool.js';
import type { MaintenanceService } from './serviceLoop.js';

/**
 * Keeps this engine's row in `engines` fresh. Other engines read it: an engine silent for longer
 * than ENGINE_DEAD_AFTER_SECONDS is presumed dead and its in-flight deliveries are retried, so a
 * SIGKILL costs tens of seconds, not a whole attempt timeout.
 */
export class EngineHeartbeat implements MaintenanceService {
	readonly name = 'engineHeartbeat';
	/** Since when (process clock, ms) every beat has succeeded; null after a failed one. */
	private beatingSince: number | null = null;

	constructor(
		private readonly pool: Pool,
		readonly engineId: string,
	) {}

	async register(): Promise<void> {
		await this.pool.query(
			`INSERT INTO engines (id, hostname, pid) VALUES ($1, $2, $3)
			 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
			[this.engineId, os.hostname(), process.pid],
		);
		this.beatingSince = Date.now();
	}

	/** How long this engine has been beating without a miss (0 while it cannot reach the database). */
	get beatingForMs(): number {
		return this.beatingSince === null ? 0 : Date.now() - this.beatingSince;
	}

	async runOnce(): Promise<Record<string, number>> {
		try {
			// INSERT … ON CONFLICT: the row may be gone if another engine judged this one dead for a day.
			await this.pool.query(
				`INSERT INTO engines (id, hostname, pid) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
				[this.engineId, os.hostname(), process.pid],
			);
		} catch (error) {
			this.beatingSince = null;
			throw error;
		}
		this.beatingSince ??= Date.now();
		// Rows of engines gone for a day are only history.
		const { rowCount } = await this.pool.query(`DELETE FROM engines WHERE heartbeat_at < now() - interval '1 day'`);
		return { forgotten: rowCount ?? 0 };
	}

	async unregister(): Promise<void> {
		await this.pool.query('DELETE FROM engines WHERE id = $1', [this.engineId]);
	}
}
