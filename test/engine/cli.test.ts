import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineLauncher } from '../../scripts/engineLauncher.mjs';
import { dropSchema, freshSchema, testDatabaseUrl, TEST_API_KEY } from '../helpers/engine.js';

const MAIN = path.resolve(import.meta.dirname, '../../engine/dist/main.js');

function run(args: string[], env: Record<string, string> = {}) {
	if (!existsSync(MAIN)) throw new Error('engine/dist/main.js is missing: run `npm run build -w engine` (npm test does)');
	return spawnSync(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
}

/**
 * `task-engine start` with `nodeFlags`. `lineOn` resolves with the first match of `pattern` in what
 * the engine wrote to `stream`; it fails when the engine exits first, or after 30 s — before the
 * test's own timeout, so that the caller's `finally` always stops the engine.
 */
function startCommand(nodeFlags: string[], env: Record<string, string>) {
	const child = spawn(process.execPath, [...nodeFlags, MAIN, 'start', '--port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
	const lineOn = (stream: 'stdout' | 'stderr', pattern: RegExp) =>
		new Promise<RegExpExecArray>((resolve, reject) => {
			let out = '';
			child[stream].on('data', (d: Buffer) => {
				out += d.toString();
				const m = pattern.exec(out);
				if (m) resolve(m);
			});
			child.on('exit', (code) => reject(new Error(`exited ${code}: ${out.slice(-2000)}`)));
			setTimeout(() => reject(new Error(`nothing matching ${pattern} in 30 s: ${out.slice(-2000)}`)), 30_000).unref();
		});
	return { child, lineOn };
}

describe('task-engine command', () => {
	it('prints help', () => {
		const r = run(['--help']);
		expect(r.status).toBe(0);
		expect(r.stdout).toContain('Usage: task-engine start');
		expect(r.stdout).toContain('DATABASE_URL');
	});

	it('runs through its launcher line with the node flags that `npm start` gives too', () => {
		const launcher = readFileSync(MAIN, 'utf8').split('\n', 1)[0];
		const line = /^#!\/usr\/bin\/env -S MALLOC_ARENA_MAX=2 node (.+)$/.exec(launcher);
		expect(line, launcher).not.toBeNull();
		const flags = line![1];
		const start = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')).scripts.start as string;
		expect(start).toContain(`MALLOC_ARENA_MAX=2 node ${flags} engine/dist/main.js start`);
		expect(engineLauncher(MAIN)).toEqual({ env: { MALLOC_ARENA_MAX: '2' }, flags: flags.split(' ') });
		// As the `task-engine` command runs it, the flags reach V8: after much allocation the young
		// generation is still about 2 × 4 MiB (without the flag it grows to 64 MiB and more; 128 MiB
		// here). V8 may report a page or two more while it scavenges: 9.5 MiB once, in CI under load.
		const churn = 'let keep = []; for (let i = 0; i < 3e6; i++) { keep.push({ i, s: "x" + i }); if (keep.length > 2e5) keep = []; }';
		// And `gc` is there for giving memory back when idle (maintenance/idleMemory.ts), and glibc's
		// arenas are capped (read by glibc from the environment the launcher line sets).
		const report =
			'console.log(require("node:v8").getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size, typeof gc, process.env.MALLOC_ARENA_MAX)';
		const r = spawnSync('/bin/sh', ['-c', `${launcher.slice(2)} -e '${churn} ${report}'`], { encoding: 'utf8', timeout: 30_000 });
		expect(r.status, r.stderr).toBe(0);
		const [newSpace, gc, arenas] = r.stdout.trim().split(' ');
		expect(Number(newSpace)).toBeGreaterThanOrEqual(8 * 1024 * 1024);
		expect(Number(newSpace)).toBeLessThanOrEqual(16 * 1024 * 1024);
		expect([gc, arenas]).toEqual(['function', '2']);
		const help = spawnSync('/bin/sh', ['-c', `${launcher.slice(2)} "${MAIN}" --help`], { encoding: 'utf8', timeout: 30_000 });
		expect(help.stdout).toContain('Usage: task-engine start');
	});

	it('stops on bad configuration with one clear line and a non-zero exit', () => {
		const r = run(['start'], { PORT: 'abc' });
		expect(r.status).not.toBe(0);
		expect(r.stderr.trim()).toBe('task-engine: PORT must be an integer from 0 to 65535 (got "abc")');
		const flag = run(['start', '--nope', '1']);
		expect(flag.status).not.toBe(0);
		expect(flag.stderr.trim().split('\n')).toHaveLength(1);
	});

	it('stops with one line when DATABASE_URL is unreachable', () => {
		// The key comes as a flag here: the engine warns that `ps` shows it (and never prints the key).
		const r = run(['start', '--api-keys', TEST_API_KEY], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
		expect(r.status).not.toBe(0);
		const lines = r.stderr.trim().split('\n');
		expect(lines[lines.length - 1]).toMatch(/^task-engine: DATABASE_URL: cannot connect to the database/);
		expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack dump
		expect(r.stderr).toContain('API_KEYS was given as --api-keys: every user of this machine can read command lines (ps); use API_KEYS_FILE or the environment');
		expect(r.stderr.replace(/--api-keys/g, '')).not.toContain(TEST_API_KEY);
	});

	it('refuses the retired URL_HOST_ALLOW_LIST with one line naming TARGET_ALLOW', () => {
		const r = run(['start'], { URL_HOST_ALLOW_LIST: 'localhost' });
		expect(r.status).not.toBe(0);
		expect(r.stderr.trim()).toBe(
			'task-engine: URL_HOST_ALLOW_LIST was replaced by TARGET_ALLOW (host names, *.suffix patterns and CIDRs, checked on the address connected to): rename it',
		);
		const help = run(['--help']).stdout;
		for (const name of ['TARGET_ALLOW', 'API_KEYS_FILE', 'DATABASE_URL_FILE', 'EMBEDDED_PG_SHARED_DIR', 'key[:scope]']) expect(help).toContain(name);
		expect(help).not.toContain('URL_HOST_ALLOW_LIST');
	});

	it('uses DATABASE_URL, answers ready, and stops cleanly on SIGTERM', async () => {
		const schema = freshSchema();
		const { child, lineOn } = startCommand([], { DATABASE_URL: testDatabaseUrl(), DATABASE_SCHEMA: schema, API_KEYS: TEST_API_KEY, LOG_LEVEL: 'warn' });
		try {
			const url = (await lineOn('stdout', /listening on (http:\/\/\S+)/))[1];
			const ready = await fetch(`${url}/v1/health/ready`).then((r) => r.json());
			expect(ready).toEqual({ status: 'ready', database: true, migrations: true });
			const unauth = await fetch(`${url}/v1/queues`);
			expect(unauth.status).toBe(401);
			expect(await unauth.json()).toMatchObject({ error: { code: 'unauthorized' } });
			const code = await new Promise<number | null>((resolve) => {
				child.once('exit', resolve);
				child.kill('SIGTERM');
			});
			expect(code).toBe(0);
		} finally {
			child.kill('SIGKILL');
			await dropSchema(schema);
		}
	});

	it('with its launcher flags, gives back the heap start-up left behind once it is up', async () => {
		const { env, flags } = engineLauncher(MAIN);
		const schema = freshSchema();
		const { child, lineOn } = startCommand(flags, { ...env, DATABASE_URL: testDatabaseUrl(), DATABASE_SCHEMA: schema, API_KEYS: TEST_API_KEY, LOG_LEVEL: 'debug' });
		try {
			const line = (await lineOn('stderr', /^.*"why":"start-up".*$/m))[0];
			const logged = JSON.parse(line) as { msg: string; heapMiB: [number, number] };
			expect(logged.msg).toBe('heap given back');
			expect(logged.heapMiB[1]).toBeLessThanOrEqual(logged.heapMiB[0]);
		} finally {
			child.kill('SIGKILL');
			await dropSchema(schema);
		}
	});
});
