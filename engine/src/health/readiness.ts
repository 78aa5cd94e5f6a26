import type { Pool } from '../db/pool.js';
import { isMigrated } from '../db/migrate.js';

/** A probe must answer quickly even when the database hangs instead of refusing (half-open connection). */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Readiness: the database answers and every migration is applied. Not ready while the database is
 * away (a load balancer stops sending work); ready again as soon as it answers — the engine itself
 * never exits over a lost connection.
 */
export async function checkReadiness(pool: Pool): Promise<{ ready: boolean; database: boolean; migrations: boolean }> {
	const probe = async () => {
		const database = await pool.query('SELECT 1').then(() => true, () => false);
		const migrations = database && (await isMigrated(pool).catch(() => false));
		return { ready: database && migrations, database, migrations };
	};
	let timer: NodeJS.Timeout | undefined;
	const timedOut = new Promise<{ ready: boolean; database: boolean; migrations: boolean }>((resolve) => {
		timer = setTimeout(() => resolve({ ready: false, database: false, migrations: false }), PROBE_TIMEOUT_MS);
	});
	try {
		return await Promise.race([probe(), timedOut]);
	} finally {
		clearTimeout(timer);
	}
}
