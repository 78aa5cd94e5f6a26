import path from 'node:path';
import { engineLauncher } from '../../scripts/engineLauncher.mjs';
import { startProcess, type RunningProcess } from './processes.js';

/** Parsed JSON of a response: tests read its fields freely and assert on them. */
export type Json = any;

export interface EngineProcess {
	/** Base URL, e.g. http://127.0.0.1:41234 */
	readonly url: string;
	readonly apiKey: string;
	readonly process: RunningProcess;
	/** Calls the engine's HTTP API with the key; the body is parsed JSON when there is one. */
	api<T = Json>(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: T }>;
	stop(): Promise<void>;
}

/**
 * Runs the built engine (`engine/dist/main.js start`) as its own process, as users run it: the
 * given database and schema, one API key, HTTP on a loopback port the engine picks itself (PORT=0,
 * read back from its start-up line).
 */
export async function startEngineProcess(options: {
	repoDir: string;
	databaseUrl: string;
	schema: string;
	apiKey: string;
	logDir: string;
	env?: Record<string, string>;
}): Promise<EngineProcess> {
	const main = path.join(options.repoDir, 'engine', 'dist', 'main.js');
	// With the environment and node flags of its launcher line, as the task-engine command runs it.
	const launcher = engineLauncher(main);
	const running = startProcess('engine', process.execPath, [...launcher.flags, main, 'start'], {
		cwd: options.logDir,
		logFile: path.join(options.logDir, 'engine.log'),
		env: {
			...launcher.env,
			PATH: process.env.PATH,
			HOME: process.env.HOME,
			DATABASE_URL: options.databaseUrl,
			DATABASE_SCHEMA: options.schema,
			API_KEYS: options.apiKey,
			HOST: '127.0.0.1',
			PORT: '0',
			DATA_DIR: path.join(options.logDir, 'engine-data'),
			LOG_LEVEL: process.env.E2E_ENGINE_LOG_LEVEL ?? 'info',
			POLL_INTERVAL_MS: '500',
			SHUTDOWN_GRACE_SECONDS: '2',
			...options.env,
		},
	});
	let url: string;
	try {
		const [, address] = await running.waitForOutput(/task-engine listening on (http:\/\/\S+)/, 60_000);
		url = address;
	} catch (error) {
		await running.stop(2_000);
		throw error;
	}

	return {
		url,
		apiKey: options.apiKey,
		process: running,
		async api(method, apiPath, body) {
			const res = await fetch(url + apiPath, {
				method,
				headers: { authorization: `Bearer ${options.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
				body: body === undefined ? undefined : JSON.stringify(body),
			});
			return { status: res.status, body: await parseBody(res) };
		},
		stop: () => running.stop(10_000),
	};
}

export async function parseBody(res: Response): Promise<Json> {
	const text = await res.text();
	if (text === '') return null;
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}
