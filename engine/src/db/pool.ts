import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a parameterised statement: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/**
 * A hot-path statement each connection parses and plans once, then reuses: planning was half the
 * server time of a claim or a settlement. `name` must always go with the same `text`.
 */
export function prepared(name: string, text: string, values: unknown[]): pg.QueryConfig {
	return { name, text, values };
}

// int8 (counts, sums) as numbers: our counters stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * Limits on every database connection the engine opens (its pool, its LISTEN connection, pg-boss's
 * pool), so that no statement, lock wait or half-open connection can hang work for hours: a
 * half-open connection inside a claim would otherwise hold its queue's advisory lock until the
 * kernel gives up on the socket.
 */
export interface ConnectionLimits {
	/** Server-side `statement_timeout`; 0 = none. */
	statementTimeoutMs: number;
	/** Server-side `lock_timeout` (row, table and advisory locks); 0 = none. */
	lockTimeoutMs: number;
	/** The server ends a session idle inside a transaction this long (its locks go with it); 0 = never. */
	idleInTransactionTimeoutMs: number;
	/** TCP keepalive probes start after this much silence, on both ends of the connection. */
	keepAliveSeconds: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
	statementTimeoutMs: 30_000,
	lockTimeoutMs: 10_000,
	idleInTransactionTimeoutMs: 60_000,
	keepAliveSeconds: 10,
};

/** How long to wait for a new connection before giving up (a database that is down answers at once). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * node-postgres settings for `limits`. The client also stops waiting for an answer a little after
 * the server's own statement timeout would have fired: past that, the server is not answering at all
 * (half-open connection) and the connection is discarded.
 */
export function connectionSettings(limits: ConnectionLimits, extraOptions = ''): pg.ClientConfig {
	const server = [
		`-c tcp_keepalives_idle=${limits.keepAliveSeconds}`,
		'-c tcp_keepalives_interval=5',
		'-c tcp_keepalives_count=3',
		extraOptions,
	].filter(Boolean);
	return {
		application_name: 'task-engine',
		connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
		keepAlive: true,
		keepAliveInitialDelayMillis: limits.keepAliveSeconds * 1000,
		...(limits.statementTimeoutMs > 0
			? { statement_timeout: limits.statementTimeoutMs, query_timeout: limits.statementTimeoutMs + 5_000 }
			: {}),
		...(limits.lockTimeoutMs > 0 ? { lock_timeout: limits.lockTimeoutMs } : {}),
		...(limits.idleInTransactionTimeoutMs > 0 ? { idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs } : {}),
		options: server.join(' '),
	};
}

/**
 * A pool whose connections have the engine's schema first on the search path, so every SQL file and
 * statement names tables without a schema and one database can hold several engines (and each test
 * file its own schema).
 */
export function createPool(connectionString: string, schema: string, limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS, max = 20): Pool {
	const pool = new pg.Pool({
		...connectionSettings(limits, `-c search_path=${quoteIdent(schema)},public`),
		connectionString,
		max,
		// Statements are sent as soon as they are issued, not one answer at a time: a transaction whose
		// statements do not wait on each other's results costs one round trip (pipelinedTransaction).
		// Code that awaits each statement behaves exactly as without it.
		pipeline: true,
	} as pg.PoolConfig);
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

export interface TransactionOptions {
	/**
	 * Transaction-scoped advisory locks (by name, hashed with `hashtext`) taken right after BEGIN, in
	 * sorted order so two transactions asking for the same locks can never deadlock. BEGIN and the
	 * locks go to the server as one message: a hot path pays one round trip for them, not one each.
	 */
	advisoryLocks?: readonly string[];
}

/**
 * Runs `work` in a transaction. A deadlock or serialization failure is retried (up to 3 runs), so
 * two requests that lock the same rows in a different order cost a retry, not a 500; `work` must
 * therefore only touch the database.
 */
export function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
	const begin = beginStatement(options.advisoryLocks ?? []);
	return rerunOnConflict(() => transactionOnce(pool, work, begin));
}

/** Runs a transaction again after a deadlock or serialization failure, which undid it (up to 3 runs). */
async function rerunOnConflict<T>(once: () => Promise<T>): Promise<T> {
	for (let run = 1; ; run++) {
		try {
			return await once();
		} catch (error) {
			if (run >= 3 || !RETRYABLE.has((error as { code?: string }).code ?? '')) throw error;
		}
	}
}

/** BEGIN and the locks as one simple-protocol query (no parameters there, so the names are quoted here). */
function beginStatement(locks: readonly string[]): string {
	const names = [...new Set(locks)].sort();
	return ['BEGIN', ...names.map((name) => `SELECT pg_advisory_xact_lock(hashtext(${quoteLiteral(name)}))`)].join('; ');
}

function quoteLiteral(text: string): string {
	if (text.includes('\u0000')) throw new Error('a lock name cannot contain NUL');
	return `'${text.replace(/'/g, "''")}'`;
}

async function transactionOnce<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, begin: string): Promise<T> {
	const client = await pool.connect();
	// A checked-out client has no listener of the pool's: a server going away mid-transaction (a
	// restart, a terminated backend) would emit an unhandled 'error' and end the process. The query
	// in progress fails on its own; this only keeps the event from being fatal.
	let broken: Error | undefined;
	const onError = (error: Error) => (broken = error);
	client.on('error', onError);
	// BEGIN is not waited for: on the pipelined connection the first statement of `work` travels with
	// it (a round trip less per transaction). Should a lock of BEGIN's fail, the server refuses that
	// statement and every other until the rollback, and the lock's error is the one thrown.
	const { began, working } = inOneWrite(client, () => ({
		began: client.query(begin).then(
			() => null,
			(error: unknown) => error,
		),
		working: asPromise(() => work(client)),
	}));
	try {
		const result = await working;
		const beginError = await began;
		if (beginError !== null) throw beginError;
		await client.query('COMMIT');
		return result;
	} catch (error) {
		if (!broken) await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
		throw (await began) ?? error;
	} finally {
		client.off('error', onError);
		// A client whose connection failed is discarded, not handed to the next transaction.
		client.release(broken);
	}
}

/**
 * A transaction in ONE round trip: BEGIN with its locks, the statements `issue` sends, and COMMIT go
 * to the server back to back on a pipelined connection, and their answers are read together. For
 * the hot path (a claim; a settlement with its refill), where four round trips per cycle of a
 * queue's slots were most of the time a slot stood empty.
 *
 * `issue` must send every statement before it first awaits (anything sent later would run after the
 * COMMIT, outside the transaction: such a statement is refused), and none may depend on another's
 * result. When any statement fails, the server has ended the transaction by then (its COMMIT reads
 * as a ROLLBACK) and that error is thrown, the first one in the order sent.
 */
export function pipelinedTransaction<T>(pool: Pool, issue: (client: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
	const begin = beginStatement(options.advisoryLocks ?? []);
	return rerunOnConflict(() => pipelinedOnce(pool, issue, begin));
}

async function pipelinedOnce<T>(pool: Pool, issue: (client: Queryable) => Promise<T>, begin: string): Promise<T> {
	const client = await pool.connect();
	let broken: Error | undefined;
	const onError = (error: Error) => (broken = error);
	client.on('error', onError);
	try {
		let open = true;
		const inTransaction: Queryable = {
			query: ((...args: Parameters<PoolClient['query']>) => {
				if (!open) throw new Error('a statement of a pipelined transaction was issued after its COMMIT');
				return (client.query as (...a: unknown[]) => unknown)(...args);
			}) as PoolClient['query'],
		};
		const { began, work, committed } = inOneWrite(client, () => {
			const began = client.query(begin);
			let work: Promise<T>;
			let end = 'COMMIT';
			try {
				work = issue(inTransaction);
			} catch (error) {
				// Whatever it sent before throwing is undone.
				work = Promise.reject(error);
				end = 'ROLLBACK';
			}
			open = false;
			return { began, work, committed: client.query(end) };
		});
		const [b, w, c] = await Promise.allSettled([began, work, committed]);
		if (b.status === 'rejected') throw b.reason;
		if (w.status === 'rejected') throw w.reason;
		if (c.status === 'rejected') throw c.reason;
		// A statement's error was read by `work` and not passed on: the transaction is gone all the same.
		if (c.value.command !== 'COMMIT') throw new Error(`a pipelined transaction ended in ${c.value.command}`);
		return w.value;
	} catch (error) {
		// The COMMIT was sent: the transaction is over unless the connection broke, and then it is discarded.
		broken ??= isConnectionError(error) ? (error as Error) : undefined;
		throw error;
	} finally {
		client.off('error', onError);
		client.release(broken);
	}
}

/** What `start` returns, or its synchronous throw as a rejection. */
function asPromise<T>(start: () => Promise<T>): Promise<T> {
	try {
		return start();
	} catch (error) {
		return Promise.reject(error);
	}
}

/**
 * Runs `send`, whose statements then leave in one write to the socket instead of one write each:
 * one system call and one packet for the server to wake up to, not four. (node-postgres corks the
 * messages of one statement; this holds the cork across several.)
 */
function inOneWrite<T>(client: PoolClient, send: () => T): T {
	const stream = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
	stream?.cork?.();
	try {
		return send();
	} finally {
		stream?.uncork?.();
	}
}

/** Errors that say the database could not be reached or the connection broke, not that a statement was wrong. */
export function isConnectionError(error: unknown): boolean {
	const e = error as { code?: unknown; message?: unknown } | null;
	const code = typeof e?.code === 'string' ? e.code : '';
	// 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections.
	if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true;
	if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
	const message = typeof e?.message === 'string' ? e.message : '';
	return /Connection terminated|connection timeout|Query read timeout|Client has encountered a connection error|not queryable/i.test(message);
}

/**
 * The database gave up on a statement because of other work — a lock wait past DB_LOCK_TIMEOUT_MS,
 * a deadlock, a serialization conflict, a statement past DB_STATEMENT_TIMEOUT_MS. The transaction
 * was rolled back; the same request may succeed a moment later.
 */
export function isContentionError(error: unknown): boolean {
	const code = (error as { code?: unknown } | null)?.code;
	return code === '55P03' || code === '40P01' || code === '40001' || code === '57014';
}

export function quoteIdent(name: string): string {
	return `"${name.replace(/"/g, '""')}"`;
}
