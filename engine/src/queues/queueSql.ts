import type { Queryable } from '../db/pool.js';
import type { PartialRetryPolicy } from '../tasks/policy.js';

/** A row of `queues`, as the engine uses it. */
export interface QueueRow {
	name: string;
	retry: PartialRetryPolicy;
	timeoutSeconds: number | null;
	/** How long an async attempt (202) waits for a report; null: 3,600 s. */
	asyncTimeoutSeconds: number | null;
	priority: number | null;
	concurrency: number;
	rateLimitMax: number | null;
	rateLimitPeriodSeconds: number | null;
	/** At most this many active tasks per concurrency key (docs/flow-control.md); null: no limit. */
	keyConcurrency: number | null;
	keyRateLimitMax: number | null;
	keyRateLimitPeriodSeconds: number | null;
	paused: boolean;
	secret: string;
	previousSecret: string | null;
	previousSecretExpiresAt: Date | null;
	createdAt: Date;
	updatedAt: Date;
}

const COLUMNS = `name, retry, timeout_seconds AS "timeoutSeconds", async_timeout_seconds AS "asyncTimeoutSeconds", priority, concurrency,
  rate_limit_max AS "rateLimitMax", rate_limit_period_seconds AS "rateLimitPeriodSeconds",
  key_concurrency AS "keyConcurrency", key_rate_limit_max AS "keyRateLimitMax", key_rate_limit_period_seconds AS "keyRateLimitPeriodSeconds", paused,
  secret, previous_secret AS "previousSecret", previous_secret_expires_at AS "previousSecretExpiresAt",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface QueueValues {
	retry: PartialRetryPolicy;
	timeoutSeconds: number | null;
	/** How long an async attempt (202) waits for a report; null: 3,600 s. */
	asyncTimeoutSeconds: number | null;
	priority: number | null;
	concurrency: number;
	rateLimitMax: number | null;
	rateLimitPeriodSeconds: number | null;
	keyConcurrency: number | null;
	keyRateLimitMax: number | null;
	keyRateLimitPeriodSeconds: number | null;
	paused: boolean;
}

/** Inserts a queue; returns null when the name is taken. */
export async function insertQueue(db: Queryable, name: string, v: QueueValues, secret: string): Promise<QueueRow | null> {
	const { rows } = await db.query<QueueRow>(
		`INSERT INTO queues (name, retry, timeout_seconds, priority, concurrency, rate_limit_max, rate_limit_period_seconds, paused, secret, async_timeout_seconds,
		   key_concurrency, key_rate_limit_max, key_rate_limit_period_seconds)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		 ON CONFLICT (name) DO NOTHING
		 RETURNING ${COLUMNS}`,
		[name, v.retry, v.timeoutSeconds, v.priority, v.concurrency, v.rateLimitMax, v.rateLimitPeriodSeconds, v.paused, secret, v.asyncTimeoutSeconds,
			v.keyConcurrency, v.keyRateLimitMax, v.keyRateLimitPeriodSeconds],
	);
	return rows[0] ?? null;
}

export async function updateQueue(db: Queryable, name: string, v: QueueValues): Promise<QueueRow | null> {
	const { rows } = await db.query<QueueRow>(
		`UPDATE queues SET retry = $2, timeout_seconds = $3, priority = $4, concurrency = $5, rate_limit_max = $6,
		   rate_limit_period_seconds = $7, paused = $8, async_timeout_seconds = $9,
		   key_concurrency = $10, key_rate_limit_max = $11, key_rate_limit_period_seconds = $12, updated_at = now()
		 WHERE name = $1
		 RETURNING ${COLUMNS}`,
		[name, v.retry, v.timeoutSeconds, v.priority, v.concurrency, v.rateLimitMax, v.rateLimitPeriodSeconds, v.paused, v.asyncTimeoutSeconds,
			v.keyConcurrency, v.keyRateLimitMax, v.keyRateLimitPeriodSeconds],
	);
	return rows[0] ?? null;
}

export async function getQueue(db: Queryable, name: string, forUpdate = false): Promise<QueueRow | null> {
	const { rows } = await db.query<QueueRow>(`SELECT ${COLUMNS} FROM queues WHERE name = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [name]);
	return rows[0] ?? null;
}

/** A page of queues by name, after `after`. */
export async function listQueues(db: Queryable, after: string | null, limit: number): Promise<QueueRow[]> {
	const { rows } = await db.query<QueueRow>(
		`SELECT ${COLUMNS} FROM queues WHERE $1::text IS NULL OR name > $1 ORDER BY name LIMIT $2`,
		[after, limit],
	);
	return rows;
}

export async function listAllQueues(db: Queryable): Promise<QueueRow[]> {
	const { rows } = await db.query<QueueRow>(`SELECT ${COLUMNS} FROM queues ORDER BY name`);
	return rows;
}

export async function setQueuePaused(db: Queryable, name: string, paused: boolean): Promise<QueueRow | null> {
	const { rows } = await db.query<QueueRow>(
		`UPDATE queues SET paused = $2, updated_at = now() WHERE name = $1 RETURNING ${COLUMNS}`,
		[name, paused],
	);
	return rows[0] ?? null;
}

/** Makes `secret` current; the old one keeps signing alongside until `graceSeconds` have passed. */
export async function rotateQueueSecret(db: Queryable, name: string, secret: string, graceSeconds: number): Promise<QueueRow | null> {
	const { rows } = await db.query<QueueRow>(
		`UPDATE queues SET previous_secret = secret, previous_secret_expires_at = now() + make_interval(secs => $3),
		   secret = $2, updated_at = now()
		 WHERE name = $1 RETURNING ${COLUMNS}`,
		[name, secret, graceSeconds],
	);
	return rows[0] ?? null;
}

export async function deleteQueue(db: Queryable, name: string): Promise<boolean> {
	const { rowCount } = await db.query('DELETE FROM queues WHERE name = $1', [name]);
	return rowCount === 1;
}

/** Tasks of the queue that are not final yet (queued, active or retrying). */
export async function countUnfinishedTasks(db: Queryable, name: string): Promise<number> {
	const { rows } = await db.query<{ n: number }>(
		`SELECT count(*)::int AS n FROM tasks WHERE queue = $1 AND state IN ('queued', 'active', 'retrying')`,
		[name],
	);
	return rows[0].n;
}

/**
 * Takes up to `wanted` permits from the queue's fixed-window rate limiter; returns how many were
 * granted. Runs under the queue's dispatch lock, so engines sharing the database share the limit.
 */
export async function takeRatePermits(db: Queryable, name: string, wanted: number): Promise<number> {
	const { rows } = await db.query<{ granted: number }>(
		`WITH q AS (
		   SELECT rate_limit_max AS max, rate_limit_period_seconds AS period,
		     CASE WHEN rate_window_start IS NULL OR rate_window_start + make_interval(secs => rate_limit_period_seconds) <= now()
		       THEN now() ELSE rate_window_start END AS window_start,
		     CASE WHEN rate_window_start IS NULL OR rate_window_start + make_interval(secs => rate_limit_period_seconds) <= now()
		       THEN 0 ELSE rate_window_count END AS used
		   FROM queues WHERE name = $1
		 )
		 UPDATE queues SET rate_window_start = q.window_start,
		   rate_window_count = q.used + LEAST($2, GREATEST(q.max - q.used, 0))
		 FROM q WHERE queues.name = $1
		 RETURNING LEAST($2, GREATEST(q.max - q.used, 0)) AS granted`,
		[name, wanted],
	);
	return rows[0]?.granted ?? 0;
}

/** Gives back permits taken but not used (fewer due jobs than permits). */
export async function returnRatePermits(db: Queryable, name: string, unused: number): Promise<void> {
	if (unused <= 0) return;
	await db.query('UPDATE queues SET rate_window_count = GREATEST(rate_window_count - $2, 0) WHERE name = $1', [name, unused]);
}

/** Seconds until the queue's current rate window ends (when more permits appear). */
export async function secondsUntilRateWindowEnds(db: Queryable, name: string): Promise<number> {
	const { rows } = await db.query<{ s: number }>(
		`SELECT GREATEST(extract(epoch FROM rate_window_start + make_interval(secs => rate_limit_period_seconds) - now()), 0)::float8 AS s
		 FROM queues WHERE name = $1`,
		[name],
	);
	return rows[0]?.s ?? 0;
}
