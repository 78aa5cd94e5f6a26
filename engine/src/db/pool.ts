import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a parameterised statement: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

// int8 (counts, sums) as numbers: our counters stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * A pool whose connections have the engine's schema first on the search path, so every SQL file and
 * statement names tables without a schema and one database can hold several engines (and each test
 * file its own schema).
 */
export function createPool(connectionString: string, schema: string, max = 20): Pool {
	const pool = new pg.Pool({
		connectionString,
		max,
		application_name: 'task-engine',
		options: `-c search_path=${quoteIdent(schema)},public`,
		connectionTimeoutMillis: 10_000,
	});
	// An idle client losing its connection must not crash the process; the next query reconnects.
	pool.on('error', () => undefined);
	return pool;
}

/**
 * Keeps the backend process ids of a pool's connections, so a notification can be recognised as
 * this engine's own (PostgreSQL stamps each with the sender's process id).
 */
export function trackBackends(pool: Pool): (pid: number) => boolean {
	const pids = new Set<number>();
	const idOf = (client: unknown) => (client as { processID?: number | null }).processID;
	pool.on('connect', (client) => {
		// processID is known once the connection is up, which 'connect' may precede by a tick.
		const add = () => {
			const pid = idOf(client);
			if (typeof pid === 'number') pids.add(pid);
		};
		add();
		setImmediate(add);
	});
	pool.on('remove', (client) => {
		const pid = idOf(client);
		if (typeof pid === 'number') pids.delete(pid);
	});
	return (pid) => pids.has(pid);
}

/** Deadlock and serialization failures: the transaction did nothing and may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs `work` in a transaction. A deadlock or serialization failure is retried (up to 3 runs), so
 * two requests that lock the same rows in a different order cost a retry, not a 500; `work` must
 * therefore only touch the database.
 */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
	for (let run = 1; ; run++) {
		try {
			return await transactionOnce(pool, work);
		} catch (error) {
			if (run >= 3 || !RETRYABLE.has((error as { code?: string }).code ?? '')) throw error;
		}
	}
}

async function transactionOnce<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query('BEGIN');
		const result = await work(client);
		await client.query('COMMIT');
		return result;
	} catch (error) {
		await client.query('ROLLBACK').catch(() => undefined);
		throw error;
	} finally {
		client.release();
	}
}

export function quoteIdent(name: string): string {
	return `"${name.replace(/"/g, '""')}"`;
}
