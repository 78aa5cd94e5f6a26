import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { freePorts, startProcess, tail, type RunningProcess } from './processes.js';

export interface N8nProcess {
	/** e.g. http://127.0.0.1:41235 (no trailing slash) */
	readonly url: string;
	readonly userFolder: string;
	/** The running n8n (a new one after each restart). */
	readonly process: RunningProcess;
	/** Milliseconds from spawn until /healthz/readiness answered 200 (of the first start). */
	readonly startMs: number;
	/**
	 * Stops the n8n this harness started (SIGTERM to its process group by pid, as a deployment
	 * stops it; SIGKILL after 15 s), waits `pauseMs`, and starts it again on the same user folder,
	 * port and environment (so its webhook URLs stay the same); resolves once it is ready.
	 */
	restart(pauseMs?: number): Promise<{ stopMs: number; startMs: number }>;
	stop(): Promise<void>;
}

/** The community package as n8n sees it: `<package name>.<node name>` is a node's type. */
export const PACKAGE_NAME = 'n8n-nodes-background-tasks';

/** Fixed so that credentials saved by one start can be read by the next (and tests are reproducible). */
const ENCRYPTION_KEY = 'e2e-background-tasks-0123456789abcdef';

/**
 * Starts n8n (from the install of scripts/install-n8n.sh) headless on loopback, offline, with a
 * fresh SQLite user folder and our package linked into its community nodes folder, and waits for
 * readiness. The environment is the verified one from the project's n8n notes.
 */
export async function startN8n(options: { n8nDir: string; repoDir: string; userFolder: string; env?: Record<string, string> }): Promise<N8nProcess> {
	if (Number(process.versions.node.split('.')[0]) < 24) {
		throw new Error(`n8n 2.41 needs Node 24; the tests run on Node ${process.versions.node} (put Node 24 first on PATH)`);
	}
	const nodesDir = path.join(options.userFolder, '.n8n', 'nodes', 'node_modules');
	await mkdir(nodesDir, { recursive: true });
	await symlink(options.repoDir, path.join(nodesDir, PACKAGE_NAME), 'dir');

	const [port, brokerPort] = await freePorts(2);
	const url = `http://127.0.0.1:${port}`;
	const env: NodeJS.ProcessEnv = {
		PATH: process.env.PATH,
		HOME: options.userFolder,
		N8N_USER_FOLDER: options.userFolder,
		DB_TYPE: 'sqlite',
		N8N_PORT: String(port),
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: '127.0.0.1',
		N8N_PROTOCOL: 'http',
		N8N_WEBHOOK_URL: `${url}/`,
		N8N_SECURE_COOKIE: 'false',
		N8N_ENCRYPTION_KEY: ENCRYPTION_KEY,
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		// No outbound calls: this machine (and CI) has no internet beyond the npm registry.
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		N8N_DYNAMIC_BANNERS_ENABLED: 'false',
		N8N_LICENSE_AUTO_RENEW_ENABLED: 'false',
		N8N_AI_ENABLED: 'false',
		N8N_DISABLED_MODULES: 'mcp-registry',
		N8N_RUNNERS_MODE: 'internal',
		N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
		N8N_RUNNERS_BROKER_PORT: String(brokerPort),
		N8N_LOG_LEVEL: process.env.E2E_N8N_LOG_LEVEL ?? 'info',
		...options.env,
	};

	let starts = 0;
	/** Spawns n8n and waits until it is ready; each start logs to its own file. */
	const launch = async (): Promise<{ running: RunningProcess; startMs: number }> => {
		starts += 1;
		const started = Date.now();
		const running = startProcess('n8n', process.execPath, [path.join(options.n8nDir, 'node_modules', 'n8n', 'bin', 'n8n'), 'start'], {
			cwd: options.userFolder,
			logFile: path.join(options.userFolder, starts === 1 ? 'n8n.log' : `n8n-${starts}.log`),
			env,
		});
		try {
			// 5-11 s on an idle machine; a minute and more on a loaded two-core one.
			await waitForReadiness(url, running, 180_000);
		} catch (error) {
			await running.stop(5_000);
			throw error;
		}
		return { running, startMs: Date.now() - started };
	};

	const first = await launch();
	let running = first.running;
	return {
		url,
		userFolder: options.userFolder,
		get process() {
			return running;
		},
		startMs: first.startMs,
		async restart(pauseMs = 0) {
			const stopping = Date.now();
			await running.stop(15_000);
			const stopMs = Date.now() - stopping;
			if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
			const next = await launch();
			running = next.running;
			return { stopMs, startMs: next.startMs };
		},
		stop: () => running.stop(15_000),
	};
}

async function waitForReadiness(url: string, running: RunningProcess, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (running.child.exitCode !== null || running.child.signalCode !== null) {
			throw new Error(`n8n exited during start-up (log ${running.logFile}):\n${tail(running.output())}`);
		}
		try {
			const res = await fetch(`${url}/healthz/readiness`);
			if (res.ok) return;
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 200));
	}
	throw new Error(`n8n was not ready within ${timeoutMs} ms (log ${running.logFile}):\n${tail(running.output())}`);
}
