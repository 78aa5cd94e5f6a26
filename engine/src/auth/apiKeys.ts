import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';

export const API_KEY_FILE = 'api-key';

function hashKey(key: string): Buffer {
	return createHash('sha256').update(key, 'utf8').digest();
}

export interface ApiKeyProvisioning {
	/** A key generated on this start: print it once, on standard output. */
	generatedKey?: string;
	/** Where the generated key is kept (owner-only). */
	keyFile?: string;
}

/**
 * Stores the hashes of the configured keys in the database (so every engine on it accepts them).
 * When none is configured and the database has none yet, generates one and keeps it in the data
 * folder with mode 0600: a new user gets a working key without reading any docs.
 */
export async function provisionApiKeys(pool: Pool, keys: readonly string[], dataDir: string): Promise<ApiKeyProvisioning> {
	// Engines starting together on a fresh database must not each generate a key.
	return withTransaction(pool, async (tx) => {
		await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['task-engine:api-keys']);
		return provision(tx, keys, dataDir);
	});
}

async function provision(pool: Queryable, keys: readonly string[], dataDir: string): Promise<ApiKeyProvisioning> {
	for (const key of keys) {
		await pool.query('INSERT INTO api_keys (hash, label) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING', [
			hashKey(key),
			'API_KEYS',
		]);
	}
	if (keys.length > 0) return {};
	const keyFile = path.join(dataDir, API_KEY_FILE);
	const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys');
	if (rows[0].n > 0) {
		const exists = await readFile(keyFile, 'utf8').then(() => true, () => false);
		return exists ? { keyFile } : {};
	}
	const key = `bt_${randomBytes(24).toString('base64url')}`;
	await mkdir(dataDir, { recursive: true });
	await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
	await chmod(keyFile, 0o600);
	const inserted = await pool.query('INSERT INTO api_keys (hash, label) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
		hashKey(key),
		'generated',
	]);
	return inserted.rowCount === 1 ? { generatedKey: key, keyFile } : { keyFile };
}

/**
 * Checks bearer keys against the hashes in the database. Hashes are cached; an unknown key
 * refreshes the cache at most once a second, so a key added by another engine works at once while
 * a flood of bad keys cannot turn into a flood of queries. Comparison is constant-time.
 */
export class ApiKeyVerifier {
	private hashes: Buffer[] = [];
	private loadedAt = 0;

	constructor(
		private readonly pool: Pool,
		private readonly now: () => number = Date.now,
	) {}

	async verify(key: string): Promise<boolean> {
		const hash = hashKey(key);
		if (this.matches(hash)) return true;
		if (this.now() - this.loadedAt < 1000) return false;
		await this.reload();
		return this.matches(hash);
	}

	async reload(): Promise<void> {
		const { rows } = await this.pool.query<{ hash: Buffer }>('SELECT hash FROM api_keys');
		this.hashes = rows.map((r) => r.hash);
		this.loadedAt = this.now();
	}

	private matches(hash: Buffer): boolean {
		let found = false;
		// No early exit: the time taken does not depend on which stored key matched.
		for (const known of this.hashes) {
			if (known.length === hash.length && timingSafeEqual(known, hash)) found = true;
		}
		return found;
	}
}
