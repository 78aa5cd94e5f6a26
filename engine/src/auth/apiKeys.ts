import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { DomainError } from '../errors.js';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import type { Scope } from './scopes.js';

export const API_KEY_FILE = 'api-key';

/** Label of the key the engine generates while API_KEYS is unset; every other key came from API_KEYS. */
const GENERATED = 'generated';

/** One entry of API_KEYS (`key[:scope]`). */
export interface ApiKeyEntry {
	readonly key: string;
	readonly scope: Scope;
}

function hashKey(key: string): Buffer {
	return createHash('sha256').update(key, 'utf8').digest();
}

export interface ApiKeyProvisioning {
	/** A key generated on this start: print it once, on standard output. */
	generatedKey?: string;
	/** Where the generated key is kept (owner-only), when it holds the key the database accepts. */
	keyFile?: string;
	/** Keys the database accepted until this start and no longer does. */
	revoked: number;
}

/**
 * Makes the database's key set equal to this engine's API_KEYS (README, "Security"): listed keys are
 * added or get their listed scope, every other key is deleted — so removing a key from API_KEYS
 * and restarting one engine revokes it everywhere (running engines drop it within seconds, see
 * {@link ApiKeyVerifier}). While API_KEYS is unset the generated key is the only one: created on
 * the first such start (and after API_KEYS was used, since a key once revoked never comes back),
 * kept in the data folder with mode 0600, scope `admin`.
 */
export async function provisionApiKeys(pool: Pool, keys: readonly ApiKeyEntry[], dataDir: string): Promise<ApiKeyProvisioning> {
	// Engines starting together on a fresh database must not each generate a key.
	return withTransaction(pool, async (tx) => {
		await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['task-engine:api-keys']);
		return keys.length > 0 ? useConfiguredKeys(tx, keys) : useGeneratedKey(tx, dataDir);
	});
}

async function useConfiguredKeys(db: Queryable, keys: readonly ApiKeyEntry[]): Promise<ApiKeyProvisioning> {
	const hashes = keys.map((k) => hashKey(k.key));
	const removed = await db.query('DELETE FROM api_keys WHERE NOT (hash = ANY($1::bytea[]))', [hashes]);
	await db.query(
		`INSERT INTO api_keys (hash, label, scope) SELECT h, 'API_KEYS', s FROM unnest($1::bytea[], $2::text[]) AS k(h, s)
		 ON CONFLICT (hash) DO UPDATE SET scope = EXCLUDED.scope, label = EXCLUDED.label`,
		[hashes, keys.map((k) => k.scope)],
	);
	return { revoked: removed.rowCount ?? 0 };
}

async function useGeneratedKey(db: Queryable, dataDir: string): Promise<ApiKeyProvisioning> {
	const removed = await db.query('DELETE FROM api_keys WHERE label <> $1', [GENERATED]);
	const revoked = removed.rowCount ?? 0;
	const keyFile = path.join(dataDir, API_KEY_FILE);
	const { rows } = await db.query<{ hash: Buffer }>('SELECT hash FROM api_keys WHERE label = $1', [GENERATED]);
	if (rows.length > 0) {
		// Another engine (with another data folder) may have generated it: name our file only when it holds that key.
		const stored = await readFile(keyFile, 'utf8').then((text) => hashKey(text.trim()), () => null);
		return stored !== null && rows.some((r) => r.hash.equals(stored)) ? { keyFile, revoked } : { revoked };
	}
	const key = `bt_${randomBytes(24).toString('base64url')}`;
	await mkdir(dataDir, { recursive: true });
	await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
	await chmod(keyFile, 0o600);
	await db.query('INSERT INTO api_keys (hash, label, scope) VALUES ($1, $2, $3)', [hashKey(key), GENERATED, 'admin']);
	return { generatedKey: key, keyFile, revoked };
}

/** Options of {@link ApiKeyVerifier}; the defaults are the promise of README's "Security" section. */
export interface ApiKeyVerifierOptions {
	now?: () => number;
	/** The key set is re-read when older than this (a revoked key stops working within it). */
	maxAgeMs?: number;
	/** While the database does not answer, the last key set serves until it is this old. */
	staleLimitMs?: number;
}

/**
 * Checks bearer keys against the hashes in the database and says their scope. The key set is
 * cached and re-read at most `maxAgeMs` (5 s) after the last read, so a key revoked by another
 * engine's start stops working here within 10 s (the read happens on the first request after that
 * age, and a failed read keeps the old set for at most `staleLimitMs`, 10 s). An unknown key also
 * re-reads the set, at most once a second, so a key added by another engine works at once while a
 * flood of bad keys cannot turn into a flood of queries. Comparison is constant-time.
 */
export class ApiKeyVerifier {
	private keys: { hash: Buffer; scope: Scope }[] = [];
	private loadedAt = Number.NEGATIVE_INFINITY;
	private loading: Promise<void> | null = null;
	private readonly now: () => number;
	private readonly maxAgeMs: number;
	private readonly staleLimitMs: number;

	constructor(
		private readonly pool: Pool,
		options: ApiKeyVerifierOptions = {},
	) {
		this.now = options.now ?? Date.now;
		this.maxAgeMs = options.maxAgeMs ?? 5_000;
		this.staleLimitMs = options.staleLimitMs ?? 10_000;
	}

	/** The scope of `key`, or null when the database does not accept it. */
	async verify(key: string): Promise<Scope | null> {
		const hash = hashKey(key);
		if (this.now() - this.loadedAt >= this.maxAgeMs) await this.refresh();
		const scope = this.match(hash);
		if (scope !== null || this.now() - this.loadedAt < 1000) return scope;
		await this.refresh();
		return this.match(hash);
	}

	/** Reads the key set now (at start, and from tests). */
	async reload(): Promise<void> {
		const { rows } = await this.pool.query<{ hash: Buffer; scope: Scope }>('SELECT hash, scope FROM api_keys');
		this.keys = rows;
		this.loadedAt = this.now();
	}

	/** One read shared by concurrent requests; a failed read keeps the old set until it is too old to trust. */
	private async refresh(): Promise<void> {
		try {
			await (this.loading ??= this.reload().finally(() => {
				this.loading = null;
			}));
		} catch {
			// The readiness probe and the log of the failing request say why the database is away.
			if (this.now() - this.loadedAt < this.staleLimitMs) return;
			throw new DomainError(503, 'unavailable', 'The API key cannot be checked: the database does not answer; try again shortly');
		}
	}

	private match(hash: Buffer): Scope | null {
		let found: Scope | null = null;
		// No early exit: the time taken does not depend on which stored key matched.
		for (const known of this.keys) {
			if (known.hash.length === hash.length && timingSafeEqual(known.hash, hash)) found = known.scope;
		}
		return found;
	}
}
