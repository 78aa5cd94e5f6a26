import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LOG_LEVELS, type LogLevel } from './log.js';
import type { ConnectionLimits } from './db/pool.js';
import type { ApiKeyEntry } from './auth/apiKeys.js';
import { isScope, SCOPES } from './auth/scopes.js';
import { TargetPolicy } from './delivery/targetPolicy.js';

/**
 * The engine's configuration, resolved once at start from environment variables and CLI flags
 * (`--port 5691` is the same as `PORT=5691`; a flag wins over the environment), range-checked,
 * frozen and passed down. Nothing else in the engine reads `process.env`.
 */
export interface Config {
	/** PostgreSQL to use; `undefined` starts the embedded PostgreSQL in `dataDir`. */
	readonly databaseUrl: string | undefined;
	/** Schema of the engine's own tables; pg-boss lives in `<databaseSchema>_pgboss`. */
	readonly databaseSchema: string;
	readonly host: string;
	readonly port: number;
	/**
	 * Keys from `API_KEYS` or `API_KEYS_FILE` (`key[:scope]`, scope `admin` when left out): at start
	 * the database's key set becomes exactly these. When empty, the generated key is the only one.
	 */
	readonly apiKeys: readonly ApiKeyEntry[];
	readonly dataDir: string;
	readonly embeddedPgPort: number;
	/**
	 * Root-owned folder for the embedded PostgreSQL's binaries and cluster when the engine runs as
	 * root and the `postgres` OS user cannot reach node_modules or DATA_DIR. Not under /tmp or
	 * /var/tmp: temp cleaners age out files there.
	 */
	readonly embeddedPgSharedDir: string;
	readonly logLevel: LogLevel;
	/** Largest accepted request body (413 above it). */
	readonly bodyLimitBytes: number;
	/** Largest task payload, as serialised JSON. */
	readonly payloadLimitBytes: number;
	/**
	 * Deepest nesting of objects and arrays in a free-form JSON field of a request (a task's or
	 * schedule's payload, a batch's items and payload); deeper is a 400. PostgreSQL and the JSON
	 * serialiser recurse per level, so an unbounded depth would end in a stack overflow.
	 */
	readonly payloadMaxDepth: number;
	/** Largest kept result and response snippet of an attempt. */
	readonly resultLimitBytes: number;
	readonly idempotencyWindowSeconds: number;
	/** Create a queue with defaults when a task names one that does not exist (else 404). */
	readonly autoCreateQueues: boolean;
	/** Where the engine may POST (TARGET_ALLOW, plus the always-refused addresses): task URLs, handlers, batch callbacks. */
	readonly targetPolicy: TargetPolicy;
	/** Deliveries in flight at once in this engine process, across all queues. */
	readonly deliveryConcurrency: number;
	/** Safety-net poll for due work; normal pickup is by notification and timers. */
	readonly pollIntervalMs: number;
	/** A delivery still active this long after its timeout is presumed lost and retried. */
	readonly leaseGraceSeconds: number;
	/** An engine whose heartbeat is older than this is presumed dead; its deliveries are retried. */
	readonly engineDeadAfterSeconds: number;
	/** How long shutdown waits for in-flight deliveries before releasing them. */
	readonly shutdownGraceSeconds: number;
	/** `/metrics` requires an API key unless this is false. */
	readonly metricsAuth: boolean;
	readonly maxRunAtDays: number;
	/** Completed and cancelled tasks (with their attempts) are deleted this many days after they finished. */
	readonly retentionCompletedDays: number;
	/** Dead letters (failed tasks) are deleted this many days after they failed. */
	readonly retentionFailedDays: number;
	/** How often the retention cleaner runs. */
	readonly retentionIntervalSeconds: number;
	/** Timeouts and keepalive of every database connection. */
	readonly connectionLimits: ConnectionLimits;
	/** What the settings do that works but is unwise (secrets on the command line); logged at start. */
	readonly warnings: readonly string[];
}

export class ConfigError extends Error {
	constructor(
		readonly variable: string,
		message: string,
	) {
		super(`${variable} ${message}`);
		this.name = 'ConfigError';
	}
}

type Source = Record<string, string | undefined>;

interface Setting {
	name: string;
	help: string;
	default?: string;
}

/** Every setting, in the order `--help` lists them. */
export const SETTINGS: readonly Setting[] = [
	{ name: 'DATABASE_URL', help: 'PostgreSQL connection URL; unset = embedded PostgreSQL in DATA_DIR' },
	{ name: 'DATABASE_URL_FILE', help: 'file holding DATABASE_URL (keeps the password out of the environment and ps)' },
	{ name: 'DATABASE_SCHEMA', help: "schema of the engine's tables", default: 'background_tasks' },
	{ name: 'HOST', help: 'address the HTTP API listens on', default: '127.0.0.1' },
	{ name: 'PORT', help: 'port of the HTTP API', default: '5690' },
	{ name: 'API_KEYS', help: 'comma-separated key[:scope] entries, scope admin (default), write or read; keys of 16+ characters; unset = a generated key' },
	{ name: 'API_KEYS_FILE', help: 'file holding the API_KEYS entries (comma- or line-separated, # comments)' },
	{ name: 'DATA_DIR', help: 'folder for the embedded database and the generated key', default: './.task-engine' },
	{ name: 'EMBEDDED_PG_PORT', help: 'port of the embedded PostgreSQL (127.0.0.1 only)', default: '54329' },
	{ name: 'EMBEDDED_PG_SHARED_DIR', help: 'root-owned folder for the embedded PostgreSQL when run as root and the postgres user cannot reach DATA_DIR', default: '/var/lib/task-engine-postgres' },
	{ name: 'LOG_LEVEL', help: LOG_LEVELS.join('|'), default: 'info' },
	{ name: 'BODY_LIMIT_BYTES', help: 'largest request body', default: String(1024 * 1024) },
	{ name: 'PAYLOAD_LIMIT_BYTES', help: 'largest task payload (JSON)', default: String(256 * 1024) },
	{ name: 'PAYLOAD_MAX_DEPTH', help: 'deepest nesting of objects/arrays in a payload or batch items (1-1000)', default: '100' },
	{ name: 'RESULT_LIMIT_BYTES', help: 'largest kept result / response snippet', default: String(16 * 1024) },
	{ name: 'IDEMPOTENCY_WINDOW_SECONDS', help: 'how long an idempotency key is remembered', default: '86400' },
	{ name: 'AUTO_CREATE_QUEUES', help: 'create unknown queues on first enqueue (true|false)', default: 'false' },
	{ name: 'TARGET_ALLOW', help: 'where the engine may POST: host names, *.suffix, CIDRs (comma-separated); unset = anywhere but link-local/metadata addresses' },
	{ name: 'DELIVERY_CONCURRENCY', help: 'deliveries in flight per engine process', default: '512' },
	{ name: 'POLL_INTERVAL_MS', help: 'safety-net poll interval', default: '2000' },
	{ name: 'LEASE_GRACE_SECONDS', help: 'grace after a timeout before a delivery counts as lost', default: '30' },
	{ name: 'ENGINE_DEAD_AFTER_SECONDS', help: 'heartbeat age after which an engine counts as dead', default: '30' },
	{ name: 'SHUTDOWN_GRACE_SECONDS', help: 'how long shutdown waits for in-flight deliveries', default: '25' },
	{ name: 'METRICS_AUTH', help: 'require an API key on /metrics (true|false)', default: 'true' },
	{ name: 'MAX_RUN_AT_DAYS', help: 'how far ahead runAt may be', default: '365' },
	{ name: 'RETENTION_COMPLETED_DAYS', help: 'days completed/cancelled tasks are kept', default: '7' },
	{ name: 'RETENTION_FAILED_DAYS', help: 'days dead letters (failed tasks) are kept', default: '30' },
	{ name: 'RETENTION_INTERVAL_SECONDS', help: 'how often old tasks are purged', default: '60' },
	{ name: 'DB_STATEMENT_TIMEOUT_MS', help: 'longest database statement; 0 = no limit', default: '30000' },
	{ name: 'DB_LOCK_TIMEOUT_MS', help: 'longest wait for a database lock; 0 = no limit', default: '10000' },
	{ name: 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', help: 'a session idle inside a transaction this long is ended; 0 = never', default: '60000' },
	{ name: 'DB_KEEPALIVE_SECONDS', help: 'TCP keepalive idle time of database connections', default: '10' },
];

/** Settings that were renamed: still setting one stops the engine with a line naming the new one. */
const RETIRED: Readonly<Record<string, string>> = {
	URL_HOST_ALLOW_LIST: 'was replaced by TARGET_ALLOW (host names, *.suffix patterns and CIDRs, checked on the address connected to): rename it',
};

/** `--database-url x` → `DATABASE_URL=x`; `--flag=value` works too. Unknown flags are errors. */
export function parseFlags(argv: readonly string[]): Source {
	const known = new Set(SETTINGS.map((s) => s.name));
	const out: Source = {};
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (!arg.startsWith('--')) throw new ConfigError(arg, 'is not an option (see task-engine --help)');
		const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2);
		const name = flag.replace(/-/g, '_').toUpperCase();
		if (RETIRED[name]) throw new ConfigError(`--${flag}`, RETIRED[name].replace('TARGET_ALLOW', '--target-allow'));
		if (!known.has(name)) throw new ConfigError(`--${flag}`, 'is not an option (see task-engine --help)');
		const value = inline ?? argv[++i];
		if (value === undefined) throw new ConfigError(`--${flag}`, 'needs a value');
		out[name] = value;
	}
	return out;
}

export function loadConfig(env: Source, flags: Source = {}, cwd = process.cwd()): Config {
	const raw = (name: string): string | undefined => {
		const value = flags[name] ?? env[name];
		return value === undefined || value.trim() === '' ? undefined : value.trim();
	};
	const fallback = (name: string) => SETTINGS.find((s) => s.name === name)?.default;
	const text = (name: string) => raw(name) ?? fallback(name) ?? '';
	const int = (name: string, min: number, max: number) => {
		const value = text(name);
		const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
		if (!Number.isSafeInteger(n) || n < min || n > max) {
			throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${value}")`);
		}
		return n;
	};
	const bool = (name: string) => {
		const value = text(name).toLowerCase();
		if (value === 'true' || value === '1') return true;
		if (value === 'false' || value === '0') return false;
		throw new ConfigError(name, `must be true or false (got "${value}")`);
	};
	for (const [name, message] of Object.entries(RETIRED)) {
		if (raw(name) !== undefined) throw new ConfigError(name, message);
	}
	/** A secret given directly or as `<NAME>_FILE` (a path, relative to cwd): not both. */
	const secret = (name: string): string | undefined => {
		const direct = raw(name);
		const file = raw(`${name}_FILE`);
		if (file === undefined) return direct;
		if (direct !== undefined) throw new ConfigError(name, `and ${name}_FILE are both set; keep one`);
		let content: string;
		try {
			content = readFileSync(path.resolve(cwd, file), 'utf8').trim();
		} catch (error) {
			throw new ConfigError(`${name}_FILE`, `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}: ${path.resolve(cwd, file)})`);
		}
		// An empty file must not quietly mean "unset" (the embedded database, or only the generated key).
		if (content === '') throw new ConfigError(`${name}_FILE`, `names an empty file (${path.resolve(cwd, file)})`);
		return content;
	};
	const warnings: string[] = [];
	const onCommandLine = (name: string) =>
		`${name} was given as --${name.toLowerCase().replace(/_/g, '-')}: every user of this machine can read command lines (ps); use ${name}_FILE or the environment`;

	const databaseUrl = secret('DATABASE_URL');
	if (databaseUrl !== undefined) {
		let url: URL;
		try {
			url = new URL(databaseUrl);
		} catch {
			throw new ConfigError('DATABASE_URL', 'must be a postgres:// URL');
		}
		if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
			throw new ConfigError('DATABASE_URL', `must be a postgres:// URL (got ${url.protocol}//…)`);
		}
		if (flags.DATABASE_URL !== undefined && url.password !== '') warnings.push(onCommandLine('DATABASE_URL'));
	}

	const databaseSchema = text('DATABASE_SCHEMA');
	if (!/^[a-z_][a-z0-9_]{0,40}$/.test(databaseSchema)) {
		throw new ConfigError('DATABASE_SCHEMA', 'must be a lower-case identifier of at most 41 characters');
	}

	const logLevel = text('LOG_LEVEL') as LogLevel;
	if (!LOG_LEVELS.includes(logLevel)) {
		throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
	}

	const apiKeysText = secret('API_KEYS');
	const apiKeys = parseApiKeys(apiKeysText ?? '');
	// Set but without a key would revoke every key in the database and fall back to the generated one.
	if (apiKeysText !== undefined && apiKeys.length === 0) throw new ConfigError('API_KEYS', 'holds no key (unset it to use the generated key)');
	if (flags.API_KEYS !== undefined && apiKeys.length > 0) warnings.push(onCommandLine('API_KEYS'));

	let targetPolicy: TargetPolicy;
	try {
		targetPolicy = TargetPolicy.parse(raw('TARGET_ALLOW'));
	} catch (error) {
		throw new ConfigError('TARGET_ALLOW', (error as Error).message);
	}

	const embeddedPgSharedDir = text('EMBEDDED_PG_SHARED_DIR');
	if (!path.isAbsolute(embeddedPgSharedDir) || path.resolve(embeddedPgSharedDir) === '/') {
		throw new ConfigError('EMBEDDED_PG_SHARED_DIR', `must be an absolute path of a folder of its own, like /var/lib/task-engine-postgres (got "${embeddedPgSharedDir}")`);
	}

	const host = text('HOST');
	if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw new ConfigError('HOST', `is not a host name or address (got "${host}")`);

	const resultLimitBytes = int('RESULT_LIMIT_BYTES', 0, 1024 * 1024);
	const bodyLimitBytes = int('BODY_LIMIT_BYTES', 1024, 64 * 1024 * 1024);
	const payloadLimitBytes = int('PAYLOAD_LIMIT_BYTES', 1, 64 * 1024 * 1024);

	return Object.freeze({
		databaseUrl,
		databaseSchema,
		host,
		port: int('PORT', 0, 65535),
		apiKeys: Object.freeze(apiKeys),
		dataDir: path.resolve(cwd, text('DATA_DIR')),
		embeddedPgPort: int('EMBEDDED_PG_PORT', 1024, 65535),
		embeddedPgSharedDir: path.resolve(embeddedPgSharedDir),
		logLevel,
		bodyLimitBytes,
		payloadLimitBytes,
		payloadMaxDepth: int('PAYLOAD_MAX_DEPTH', 1, 1000),
		resultLimitBytes,
		idempotencyWindowSeconds: int('IDEMPOTENCY_WINDOW_SECONDS', 1, 365 * 86400),
		autoCreateQueues: bool('AUTO_CREATE_QUEUES'),
		targetPolicy,
		deliveryConcurrency: int('DELIVERY_CONCURRENCY', 1, 10000),
		pollIntervalMs: int('POLL_INTERVAL_MS', 50, 60000),
		leaseGraceSeconds: int('LEASE_GRACE_SECONDS', 1, 3600),
		engineDeadAfterSeconds: int('ENGINE_DEAD_AFTER_SECONDS', 5, 3600),
		shutdownGraceSeconds: int('SHUTDOWN_GRACE_SECONDS', 0, 3600),
		metricsAuth: bool('METRICS_AUTH'),
		maxRunAtDays: int('MAX_RUN_AT_DAYS', 1, 3650),
		retentionCompletedDays: int('RETENTION_COMPLETED_DAYS', 1, 3650),
		retentionFailedDays: int('RETENTION_FAILED_DAYS', 1, 3650),
		retentionIntervalSeconds: int('RETENTION_INTERVAL_SECONDS', 1, 86400),
		connectionLimits: Object.freeze({
			statementTimeoutMs: int('DB_STATEMENT_TIMEOUT_MS', 0, 3_600_000),
			lockTimeoutMs: int('DB_LOCK_TIMEOUT_MS', 0, 3_600_000),
			idleInTransactionTimeoutMs: int('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 0, 86_400_000),
			keepAliveSeconds: int('DB_KEEPALIVE_SECONDS', 1, 3600),
		}),
		warnings: Object.freeze(warnings),
	});
}

/**
 * `key[:scope]` entries separated by commas or new lines; lines starting with `#` are comments
 * (for API_KEYS_FILE). Messages name an entry by its position, never by its text: it is a secret.
 */
export function parseApiKeys(text: string): ApiKeyEntry[] {
	const entries = text
		.split('\n')
		.filter((line) => !line.trim().startsWith('#'))
		.join(',')
		.split(',')
		.map((s) => s.trim())
		.filter(Boolean);
	const seen = new Set<string>();
	return entries.map((entry, i) => {
		const colon = entry.lastIndexOf(':');
		const key = colon < 0 ? entry : entry.slice(0, colon);
		const scope = colon < 0 ? 'admin' : entry.slice(colon + 1);
		const which = `entry ${i + 1}`;
		if (!isScope(scope)) throw new ConfigError('API_KEYS', `${which} ends in a ":" suffix that is not a scope (${SCOPES.join(', ')}); keys cannot contain ":"`);
		if (key.length < 16) throw new ConfigError('API_KEYS', `entries must be at least 16 characters long (${which} is not)`);
		if (!/^[\x21-\x7e]+$/.test(key)) throw new ConfigError('API_KEYS', `${which} has a character other than printable ASCII (a key travels in an Authorization header)`);
		if (seen.has(key)) throw new ConfigError('API_KEYS', `${which} repeats an earlier key`);
		seen.add(key);
		return Object.freeze({ key, scope });
	});
}

export function helpText(): string {
	const rows = SETTINGS.map((s) => {
		const flag = `--${s.name.toLowerCase().replace(/_/g, '-')}`;
		const def = s.default === undefined ? '' : ` (default ${s.default})`;
		return `  ${s.name.padEnd(27)} ${flag.padEnd(30)} ${s.help}${def}`;
	});
	return [
		'Usage: task-engine start [--option value ...]',
		'       task-engine --help',
		'',
		'Starts the Background Tasks engine: the HTTP API, delivery, schedules and maintenance.',
		'Every setting is an environment variable or the matching flag (a flag wins).',
		'',
		...rows,
		'',
	].join('\n');
}
