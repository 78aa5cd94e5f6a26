import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quoteIdent, withTransaction, type Pool } from './pool.js';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
	version: number;
	name: string;
	sql: string;
}

/** Numbered SQL files `0001_name.sql`, in order. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
	const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
	return Promise.all(
		files.map(async (file) => ({
			version: Number(file.slice(0, 4)),
			name: file.slice(5, -4),
			sql: await readFile(path.join(dir, file), 'utf8'),
		})),
	);
}

/**
 * Applies the pending migrations in one transaction that first takes a transaction-scoped advisory
 * lock named after the schema: engines starting together queue up on the lock, and the later ones
 * find the versions already recorded and apply nothing.
 */
export async function migrate(pool: Pool, schema: string): Promise<number[]> {
	const migrations = await loadMigrations();
	return withTransaction(pool, async (client) => {
		// A migration may rewrite large tables, and engines starting together wait here for the first
		// one's migrations: neither is bounded by the connection's everyday timeouts.
		await client.query('SET LOCAL statement_timeout = 0');
		await client.query('SET LOCAL lock_timeout = 0');
		await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`task-engine:migrate:${schema}`]);
		await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
		await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}, public`);
		await client.query(`CREATE TABLE IF NOT EXISTS migrations (
			version int PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`);
		const { rows } = await client.query<{ version: number }>('SELECT version FROM migrations');
		const applied = new Set(rows.map((r) => r.version));
		const done: number[] = [];
		for (const m of migrations) {
			if (applied.has(m.version)) continue;
			await client.query(m.sql);
			await client.query('INSERT INTO migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
			done.push(m.version);
		}
		return done;
	});
}

let knownVersions: Promise<number[]> | undefined;

/** True when every migration this build knows has been applied (readiness; the files are read once). */
export async function isMigrated(pool: Pool): Promise<boolean> {
	knownVersions ??= loadMigrations().then((migrations) => migrations.map((m) => m.version));
	const versions = await knownVersions;
	const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM migrations WHERE version = ANY($1::int[])', [versions]);
	return rows[0].n === versions.length;
}
