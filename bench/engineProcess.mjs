// The engine under test, as a child process (so the load generator never shares its event loop),
// in a fresh schema, with a keep-alive HTTP client for its API and an RSS sampler.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onCleanup } from './cleanup.mjs';
import { dropSchemas, freshSchema } from './database.mjs';
import { CLOCK_TICKS } from './stats.mjs';
import { engineLauncher } from '../scripts/engineLauncher.mjs';

// BENCH_ENGINE_MAIN: another build's main.js (a patched copy, to measure a change before making it).
const MAIN = process.env.BENCH_ENGINE_MAIN || fileURLToPath(new URL('../engine/dist/main.js', import.meta.url));
const QUERY_COUNTER = new URL('./queryCounter.mjs', import.meta.url).href;
/** Statements shown from the query counter's table (slowest in total first). */
const QUERY_LINES = 14;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
/** Engine log lines (LOG_LEVEL=warn) echoed to stderr before we only count them. */
const MAX_ECHOED_LOG_LINES = 20;

/**
 * The default of an engine setting (DELIVERY_CONCURRENCY…) as the build under test declares it,
 * so a report never names a stale default; null when that build has no such setting.
 */
export async function engineDefault(name) {
	const { SETTINGS } = await import(pathToFileURL(path.join(path.dirname(MAIN), 'config.js')).href);
	return SETTINGS.find((s) => s.name === name)?.default ?? null;
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status), or null once it is gone. */
export function readRss(pid) {
	try {
		const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
		return match ? Number(match[1]) * 1024 : null;
	} catch {
		return null;
	}
}

/** CPU time (user + system, seconds) a process has used so far, from /proc/<pid>/stat; null once it is gone. */
export function readCpuSeconds(pid) {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		// Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
	} catch {
		return null;
	}
}

/** Samples a process's RSS every `intervalMs` until `stop()`, which returns the peak and the sample count. */
export function sampleRss(pid, intervalMs = 100) {
	let peak = readRss(pid) ?? 0;
	let samples = 1;
	const timer = setInterval(() => {
		const rss = readRss(pid);
		if (rss !== null) {
			peak = Math.max(peak, rss);
			samples += 1;
		}
	}, intervalMs);
	return {
		stop() {
			clearInterval(timer);
			const last = readRss(pid);
			if (last !== null) peak = Math.max(peak, last);
			return { peak, samples: samples + 1 };
		},
	};
}

/**
 * Starts `node engine/dist/main.js start --port 0` against `databaseUrl` in a fresh schema and waits
 * for its "listening on" line. `stop()` ends it (SIGTERM, SIGKILL after 10 s) and drops its schemas.
 * `schema`: start on that existing schema instead (an engine restarted on another's data); `stop()`
 * then leaves the schemas to whoever made them.
 * Diagnostics: `diagnostics.cpuProfDir` writes a CPU profile there; `diagnostics.countQueries`
 * prints the engine's SQL statements by total time when it stops.
 */
export async function startEngine({ databaseUrl, pool, env = {}, diagnostics = {}, schema: existingSchema }) {
	const schema = existingSchema ?? freshSchema();
	const apiKey = randomBytes(24).toString('hex');
	const dataDir = await mkdtemp(path.join(os.tmpdir(), 'task-engine-bench-data-'));
	const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
	const queryLog = diagnostics.countQueries ? path.join(dataDir, 'queries.txt') : undefined;
	// As the task-engine command runs it: the environment and node flags of its launcher line.
	const launcher = engineLauncher(MAIN);
	const nodeArgs = [
		...launcher.flags,
		...(diagnostics.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${diagnostics.cpuProfDir}`] : []),
		...(queryLog ? ['--import', QUERY_COUNTER] : []),
	];
	const child = spawn(process.execPath, [...nodeArgs, MAIN, 'start', '--port', '0', '--host', '127.0.0.1'], {
		env: {
			...launcher.env,
			...process.env,
			...(queryLog ? { BENCH_QUERY_LOG: queryLog } : {}),
			DATABASE_URL: databaseUrl,
			DATABASE_SCHEMA: schema,
			API_KEYS: apiKey,
			LOG_LEVEL: 'warn',
			DATA_DIR: dataDir,
			SHUTDOWN_GRACE_SECONDS: '2',
			...env,
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	let logLines = 0;
	let stderrTail = '';
	child.stderr.setEncoding('utf8').on('data', (chunk) => {
		stderrTail = (stderrTail + chunk).slice(-4000);
		for (const line of chunk.split('\n').filter(Boolean)) {
			logLines += 1;
			if (logLines <= MAX_ECHOED_LOG_LINES) process.stderr.write(`[engine ${child.pid}] ${line.slice(0, 500)}\n`);
		}
	});

	const stop = onCleanup(`engine ${child.pid} (schema ${schema})`, async () => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
			await exited;
			clearTimeout(timer);
		}
		agent.destroy();
		if (logLines > MAX_ECHOED_LOG_LINES) process.stderr.write(`[engine ${child.pid}] … ${logLines - MAX_ECHOED_LOG_LINES} more log lines not shown\n`);
		if (queryLog) {
			const lines = (await readFile(queryLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
			const txLines = lines.filter((l) => l.startsWith('tx '));
			const statementLines = lines.filter((l) => !l.startsWith('tx '));
			console.log(`  engine  transactions by first statement (client-side durations):`);
			for (const line of txLines.slice(0, QUERY_LINES)) console.log(`    ${line}`);
			console.log(`  engine  SQL by total client time (${statementLines.length} distinct statements; top ${QUERY_LINES}):`);
			for (const line of statementLines.slice(0, QUERY_LINES)) console.log(`    ${line}`);
		}
		if (!existingSchema) await dropSchemas(pool, [schema, `${schema}_pgboss`]);
		await rm(dataDir, { recursive: true, force: true });
	});

	let baseUrl;
	try {
		baseUrl = await new Promise((resolve, reject) => {
			let out = '';
			const timer = setTimeout(() => reject(new Error(`engine did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
			child.stdout.setEncoding('utf8').on('data', (chunk) => {
				out += chunk;
				const match = /listening on (http:\/\/\S+)/.exec(out);
				if (match) {
					clearTimeout(timer);
					resolve(match[1]);
				}
			});
			exited.then(({ code, signal }) => {
				clearTimeout(timer);
				reject(new Error(`engine exited during start (code ${code}, signal ${signal}): ${stderrTail.trim().slice(-1000)}`));
			});
		});
	} catch (error) {
		await stop();
		throw error;
	}
	const { api, call } = apiClient(baseUrl, apiKey, agent);

	return { pid: child.pid, schema, baseUrl, apiKey, api, call, rss: () => readRss(child.pid), cpuSeconds: () => readCpuSeconds(child.pid), stop };
}

/**
 * A client of the engine's API (or of anything answering like it) over a keep-alive agent: `api`
 * resolves with `{ status, body }`, `call` also fails on a status other than `expected`.
 */
export function apiClient(baseUrl, apiKey, agent = new http.Agent({ keepAlive: true, maxSockets: 64 })) {
	const { hostname, port } = new URL(baseUrl);
	/** One API call over the keep-alive agent; resolves with `{ status, body }` (body parsed when JSON). */
	function api(method, urlPath, body) {
		const payload = body === undefined ? undefined : JSON.stringify(body);
		return new Promise((resolve, reject) => {
			const req = http.request(
				{
					agent,
					hostname,
					port,
					method,
					path: urlPath,
					headers: {
						authorization: `Bearer ${apiKey}`,
						...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
					},
				},
				(res) => {
					const chunks = [];
					res.on('data', (c) => chunks.push(c));
					res.on('end', () => {
						const text = Buffer.concat(chunks).toString('utf8');
						let parsed = text;
						try {
							parsed = text ? JSON.parse(text) : null;
						} catch {
							// not JSON: keep the text for the error message
						}
						resolve({ status: res.statusCode, body: parsed });
					});
					res.on('error', reject);
				},
			);
			req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
			req.on('error', reject);
			req.end(payload);
		});
	}

	/** Like `api`, but anything other than `expected` is an error naming the call. */
	async function call(method, urlPath, body, expected = [200, 201]) {
		const res = await api(method, urlPath, body);
		if (!expected.includes(res.status)) {
			throw new Error(`${method} ${urlPath} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
		}
		return res.body;
	}

	return { api, call };
}
