// The database every measurement runs on: BENCH_DATABASE_URL, or an embedded PostgreSQL started
// here (the engine's own starter, compiled) in a temporary folder. Schemas are created per
// measurement and dropped by their owners.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { onCleanup } from './cleanup.mjs';

const quoteIdent = (name) => `"${name.replace(/"/g, '""')}"`;

/** A fresh schema name, e.g. bench_3f9a1c2e (lower case: the engine's DATABASE_SCHEMA rule). */
export const freshSchema = (prefix = 'bench') => `${prefix}_${randomBytes(4).toString('hex')}`;

function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

async function startEmbedded() {
	const { startEmbeddedPostgres } = await import('../engine/dist/db/embeddedPostgres.js');
	const { silentLogger } = await import('../engine/dist/log.js');
	// The server runs as the `postgres` OS user when we are root: it must be able to enter the folder.
	const dataDir = await mkdtemp(path.join(os.tmpdir(), 'task-engine-bench-'));
	await chmod(dataDir, 0o755);
	const removeDir = onCleanup('embedded PostgreSQL data folder', () => rm(dataDir, { recursive: true, force: true }));
	const began = performance.now();
	const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), log: silentLogger() });
	const stop = onCleanup('embedded PostgreSQL', async () => {
		await embedded.stop();
		await removeDir();
	});
	return { url: embedded.connectionString, dataDir, label: `embedded PostgreSQL (${dataDir}, started in ${Math.round(performance.now() - began)} ms)`, stop };
}

/**
 * Opens the benchmark database. Returns its URL, its data folder when embedded (null otherwise), a
 * small pool for the benchmark's own SQL (counts, ANALYZE, dropping schemas), its server version,
 * and a label for the report.
 */
export async function openDatabase() {
	const configured = process.env.BENCH_DATABASE_URL?.trim();
	const db = configured
		? { url: configured, dataDir: null, label: `BENCH_DATABASE_URL (${redact(configured)})`, stop: async () => undefined }
		: await startEmbedded();
	// Not named 'task-engine…': the embedded server's stop() stays up while such connections exist.
	const pool = new pg.Pool({ connectionString: db.url, max: 4, application_name: 'bench-runner' });
	pool.on('error', () => undefined);
	// Registered after the embedded server, so it runs before the server stops.
	const closePool = onCleanup('benchmark pool', () => pool.end());
	const { rows } = await pool.query("SELECT current_setting('server_version') AS v");
	return { ...db, pool, version: rows[0].v, close: closePool };
}

function redact(url) {
	try {
		const u = new URL(url);
		if (u.password) u.password = '***';
		return u.toString();
	} catch {
		return 'unparsable URL';
	}
}

export async function dropSchemas(pool, names) {
	for (const name of names) await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
}

/** ANALYZE of a table (a partitioned parent includes its partitions), so plans match the data. */
export async function analyze(pool, schema, table) {
	await pool.query(`ANALYZE ${quoteIdent(schema)}.${quoteIdent(table)}`);
}

export { quoteIdent };
