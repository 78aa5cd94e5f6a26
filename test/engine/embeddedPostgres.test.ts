import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
	EmbeddedPostgresError,
	startEmbeddedPostgres,
	type EmbeddedPostgres,
} from '../../engine/src/db/embeddedPostgres.js';
import { silentLogger } from '../../engine/src/log.js';

const log = silentLogger();
const clusterDirs = new Set<string>();
const cleanupPaths: string[] = [];

/** A port the kernel just handed out, never the machine's 5432 nor the engine default 54329. */
async function freePort(): Promise<number> {
	for (;;) {
		const port = await new Promise<number>((resolve, reject) => {
			const srv = net.createServer();
			srv.once('error', reject);
			srv.listen(0, '127.0.0.1', () => {
				const { port } = srv.address() as net.AddressInfo;
				srv.close(() => resolve(port));
			});
		});
		if (port !== 5432 && port !== 54329) return port;
	}
}

/** mkdtemp makes 0700 folders; open it up so the postgres OS user (when run as root) can reach it. */
async function dataDir(): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'embedded-pg-test-'));
	await chmod(dir, 0o755);
	cleanupPaths.push(dir);
	return dir;
}

/** A root-owned 0755 folder under the temporary folder, for EMBEDDED_PG_SHARED_DIR (never /var/lib or /var/tmp). */
async function sharedRoot(): Promise<string> {
	const base = await dataDir();
	return path.join(base, 'shared');
}

async function start(dir: string, port: number, sharedDir?: string): Promise<EmbeddedPostgres> {
	const t = performance.now();
	const db = await startEmbeddedPostgres({ dataDir: dir, port, log, sharedDir: sharedDir ?? (await sharedRoot()) });
	clusterDirs.add(db.clusterDir);
	console.log(`start (${db.startedHere ? 'started here' : 'reused'}): ${Math.round(performance.now() - t)} ms`);
	return db;
}

async function stop(db: EmbeddedPostgres): Promise<void> {
	const t = performance.now();
	await db.stop();
	console.log(`stop: ${Math.round(performance.now() - t)} ms`);
}

async function query<T extends pg.QueryResultRow>(db: EmbeddedPostgres, sql: string): Promise<T[]> {
	const client = new pg.Client({ connectionString: db.connectionString });
	await client.connect();
	try {
		return (await client.query<T>(sql)).rows;
	} finally {
		await client.end();
	}
}

async function postmasterPid(clusterDir: string): Promise<number | null> {
	const file = path.join(clusterDir, 'postmaster.pid');
	return existsSync(file) ? Number((await readFile(file, 'utf8')).split('\n')[0]) : null;
}

/** Whether the process still exists at all (a zombie awaiting its reaper counts). */
function exists(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * Whether the process still runs. The postmaster is an orphan (pg_ctl exits after starting it), so once it
 * exits it stays a zombie until PID 1 reaps it, which in containers can take a second: not running.
 */
function alive(pid: number): boolean {
	if (!exists(pid)) return false;
	try {
		return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
	} catch {
		return process.platform !== 'linux';
	}
}

/** Until the pid is gone entirely, zombie included. */
async function waitGone(pid: number): Promise<void> {
	for (let i = 0; i < 200 && exists(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

afterAll(async () => {
	// Whatever a failed test left running: SIGINT is PostgreSQL's fast shutdown.
	for (const dir of clusterDirs) {
		const pid = await postmasterPid(dir);
		if (pid && alive(pid)) {
			process.kill(pid, 'SIGINT');
			await waitGone(pid);
		}
	}
	for (const p of cleanupPaths) await rm(p, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
	it('starts a fresh cluster, answers queries, and stops leaving no process', async () => {
		const dir = await dataDir();
		const db = await start(dir, await freePort());
		expect(db.startedHere).toBe(true);
		expect(db.clusterDir).toBe(path.join(dir, 'pg'));
		expect(db.connectionString).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
		const [row] = await query<{ version: string }>(db, 'SELECT version()');
		expect(row.version).toMatch(/^PostgreSQL 17/);
		const pw = await readFile(path.join(dir, 'pg-password'), 'utf8');
		expect(pw.trim().length).toBeGreaterThan(16);

		const pid = (await postmasterPid(db.clusterDir))!;
		expect(alive(pid)).toBe(true);
		await stop(db);
		await stop(db); // idempotent
		expect(alive(pid)).toBe(false);
		expect(existsSync(path.join(db.clusterDir, 'postmaster.pid'))).toBe(false);
	});

	it('keeps its data across restarts, and starts over a stale pid file', async () => {
		const dir = await dataDir();
		const port = await freePort();
		const first = await start(dir, port);
		await query(first, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES (\'still here\')');
		const stalePidFile = await readFile(path.join(first.clusterDir, 'postmaster.pid'), 'utf8');
		await stop(first);

		const second = await start(dir, port);
		expect(second.startedHere).toBe(true);
		expect(await query(second, 'SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
		const pid = (await postmasterPid(second.clusterDir))!;
		await stop(second);

		// The server died without cleaning up: its pid file names a process that is gone.
		await waitGone(pid);
		await waitGone(Number(stalePidFile.split('\n')[0]));
		await writeFile(path.join(second.clusterDir, 'postmaster.pid'), stalePidFile);
		const third = await start(dir, port);
		expect(third.startedHere).toBe(true);
		expect(await query(third, 'SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
		await stop(third);
	});

	it('shares one server between two engines; the last one out stops it', async () => {
		const dir = await dataDir();
		const port = await freePort();
		const first = await start(dir, port);
		// The second engine is configured with another port: it must find the running server's port.
		const second = await start(dir, await freePort());
		expect(first.startedHere).toBe(true);
		expect(second.startedHere).toBe(false);
		expect(second.connectionString).toBe(first.connectionString);
		const pid = (await postmasterPid(first.clusterDir))!;

		const held = new pg.Client({ connectionString: second.connectionString, application_name: 'task-engine-x' });
		await held.connect();
		await stop(first);
		expect(alive(pid)).toBe(true);
		expect(await held.query('SELECT 1 AS one')).toMatchObject({ rows: [{ one: 1 }] });

		await held.end();
		await stop(second);
		expect(alive(pid)).toBe(false);
	});

	it('reuses a server left running by an engine that never stopped it', async () => {
		const dir = await dataDir();
		const port = await freePort();
		const orphaned = await start(dir, port); // like an engine killed with SIGKILL: no stop()
		const pid = (await postmasterPid(orphaned.clusterDir))!;

		const next = await start(dir, port);
		expect(next.startedHere).toBe(false);
		expect(await postmasterPid(next.clusterDir)).toBe(pid);
		expect(await query(next, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
		await stop(next);
		expect(alive(pid)).toBe(false);
	});

	it('says which port is taken when another program holds it', async () => {
		const port = await freePort();
		const blocker = net.createServer();
		await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
		try {
			const failure = await startEmbeddedPostgres({ dataDir: await dataDir(), port, log, sharedDir: await sharedRoot() }).catch((e: unknown) => e);
			expect(failure).toBeInstanceOf(EmbeddedPostgresError);
			expect((failure as Error).message).toContain('EMBEDDED_PG_PORT');
			expect((failure as Error).message).not.toContain('\n');
		} finally {
			await new Promise((r) => blocker.close(r));
		}
	});

	it.skipIf(process.getuid?.() !== 0)('places the cluster in EMBEDDED_PG_SHARED_DIR when the postgres user cannot reach DATA_DIR', async () => {
		const privateParent = await mkdtemp(path.join(os.tmpdir(), 'embedded-pg-private-')); // 0700, owned by root
		cleanupPaths.push(privateParent);
		const dir = path.join(privateParent, 'data');
		const shared = await sharedRoot();
		const db = await start(dir, await freePort(), shared);
		expect(db.clusterDir).toMatch(new RegExp(`^${shared}/clusters/[0-9a-f]{16}/pg$`));
		expect((await stat(shared)).mode & 0o7777).toBe(0o755);
		expect((await readFile(path.join(dir, 'pg-cluster-location'), 'utf8')).trim()).toBe(db.clusterDir);
		await query(db, 'CREATE TABLE t (v int)');
		await stop(db);

		const again = await start(dir, await freePort(), shared);
		expect(again.clusterDir).toBe(db.clusterDir);
		expect(await query(again, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 0 }]);
		await stop(again);

		// A cluster outside the shared folder (where earlier versions kept it: /var/tmp, which temp
		// cleaners age out; here a previous EMBEDDED_PG_SHARED_DIR) moves into it, data and all.
		const moved = await start(dir, await freePort(), await sharedRoot());
		expect(moved.clusterDir).not.toBe(db.clusterDir);
		expect(existsSync(db.clusterDir)).toBe(false);
		expect((await readFile(path.join(dir, 'pg-cluster-location'), 'utf8')).trim()).toBe(moved.clusterDir);
		expect(await query(moved, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 0 }]);
		await stop(moved);
	});
});
