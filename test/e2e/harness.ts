import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { dropSchema, eventually, freshSchema, testDatabaseUrl } from '../helpers/engine.js';
import { startEngineProcess, type EngineProcess } from './engineProcess.js';
import { setUpN8nApi, type N8nApi, type N8nExecution } from './n8nApi.js';
import { PACKAGE_NAME, startN8n, type N8nProcess } from './n8nProcess.js';

export { eventually, PACKAGE_NAME, type N8nExecution };

const repoDir = path.resolve(import.meta.dirname, '..', '..');

export interface Harness {
	readonly engine: EngineProcess;
	readonly n8n: N8nProcess;
	/** The engine's base URL and API key, as a Background Tasks credential would hold them. */
	readonly engineUrl: string;
	readonly engineApiKey: string;
	readonly n8nUrl: string;
	/** Where the logs of both processes are (removed by stop() unless E2E_KEEP_TMP=1). */
	readonly tmpDir: string;
	/** The production URL of a Webhook node's path. */
	webhookUrl(webhookPath: string): string;
	/** n8n public API: create (returns the id), activate/deactivate, executions newest first. */
	createWorkflow: N8nApi['createWorkflow'];
	activate: N8nApi['activate'];
	deactivate: N8nApi['deactivate'];
	executions: N8nApi['executions'];
	n8nApi: N8nApi['publicApi'];
	createCredential: N8nApi['createCredential'];
	/** Creates a Background Tasks API credential pointing at this harness's engine; returns its id. */
	engineCredential(name?: string): Promise<string>;
	loadedTypes: N8nApi['loadedTypes'];
	/** The engine's HTTP API with the key. */
	engineApi: EngineProcess['api'];
	/** Runs `fn` and records how long it took under `label` for the timing summary. */
	time<T>(label: string, fn: () => Promise<T>): Promise<T>;
	/** Prints one-off setup, start-up and scenario timings. */
	printTimings(): void;
	/** Stops n8n and the engine, drops the engine's schema and removes the temporary folder. */
	stop(): Promise<void>;
}

/**
 * The whole product as a user runs it: the built engine as its own process on a fresh schema of
 * the tests' PostgreSQL, and a real n8n (installed by scripts/install-n8n.sh, see setup.ts) with
 * our package linked into its community nodes folder, an owner and an API key. One per test file:
 * n8n takes several seconds to start.
 */
export async function startHarness(options: { engineEnv?: Record<string, string>; n8nEnv?: Record<string, string> } = {}): Promise<Harness> {
	const timings: Array<[string, number]> = [];
	const time = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
		const started = Date.now();
		try {
			return await fn();
		} finally {
			timings.push([label, Date.now() - started]);
		}
	};

	const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'bt-e2e-'));
	const schema = freshSchema();
	const apiKey = `e2e-${randomBytes(16).toString('hex')}`;
	const stops: Array<() => Promise<void>> = [];
	const stop = async () => {
		for (const step of stops.reverse()) await step().catch((error: unknown) => console.error('e2e stop step failed:', error));
		stops.length = 0;
	};
	stops.push(async () => {
		if (process.env.E2E_KEEP_TMP === '1') console.log(`e2e: kept logs and n8n user folder in ${tmpDir}`);
		else await rm(tmpDir, { recursive: true, force: true });
	});

	// Also after a failed start: the engine may have migrated the schema before failing.
	stops.push(() => dropSchema(schema));

	try {
		// The engine and n8n start independently; start them together to save a few seconds, and
		// let both settle before going on, so that a failure of one never leaves the other running.
		const [engineStart, n8nStart] = await Promise.allSettled([
			time('start engine', () => startEngineProcess({ repoDir, databaseUrl: testDatabaseUrl(), schema, apiKey, logDir: tmpDir, env: options.engineEnv })),
			time('start n8n (until ready)', () => startN8n({ n8nDir: inject('n8nDir'), repoDir, userFolder: path.join(tmpDir, 'n8n'), env: options.n8nEnv })),
		]);
		if (engineStart.status === 'fulfilled') stops.push(() => engineStart.value.stop());
		if (n8nStart.status === 'fulfilled') stops.push(() => n8nStart.value.stop());
		if (engineStart.status === 'rejected') throw engineStart.reason;
		if (n8nStart.status === 'rejected') throw n8nStart.reason;
		const engine = engineStart.value;
		const n8n = n8nStart.value;
		const api = await time('n8n owner + API key', () => setUpN8nApi(n8n.url));

		return {
			engine,
			n8n,
			engineUrl: engine.url,
			engineApiKey: apiKey,
			n8nUrl: n8n.url,
			tmpDir,
			webhookUrl: (webhookPath) => `${n8n.url}/webhook/${webhookPath}`,
			createWorkflow: api.createWorkflow,
			activate: api.activate,
			deactivate: api.deactivate,
			executions: api.executions,
			n8nApi: api.publicApi,
			createCredential: api.createCredential,
			engineCredential: (name = 'Background Tasks (e2e engine)') => api.createCredential('backgroundTasksApi', name, { baseUrl: engine.url, apiKey }),
			loadedTypes: api.loadedTypes,
			engineApi: engine.api,
			time,
			printTimings() {
				const rows = [...Object.entries(inject('setupTimings')), ...timings];
				const width = Math.max(...rows.map(([label]) => label.length));
				const lines = rows.map(([label, ms]) => `  ${label.padEnd(width)}  ${(ms / 1000).toFixed(1).padStart(6)} s`);
				console.log(`e2e timing summary:\n${lines.join('\n')}`);
			},
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}
