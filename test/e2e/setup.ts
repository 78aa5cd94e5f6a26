import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
const repoDir = path.resolve(import.meta.dirname, '..', '..');

declare module 'vitest' {
	export interface ProvidedContext {
		n8nDir: string;
		/** Milliseconds spent on the one-off steps, for the timing summary. */
		setupTimings: Record<string, number>;
	}
}

/**
 * Once per run, before any scenario: makes sure n8n is installed in the cache (a no-op when it
 * already is) and builds our package and the engine (`npm run build`: dist/ and engine/dist/).
 * `E2E_SKIP_BUILD=1` skips the build when you just built.
 */
export async function setup(project: TestProject): Promise<void> {
	const timings: Record<string, number> = {};
	let started = Date.now();
	const install = await run(path.join(repoDir, 'scripts', 'install-n8n.sh'), [], { cwd: repoDir, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stderr?: string; message: string }) => {
		throw new Error(`scripts/install-n8n.sh failed: ${error.stderr ?? error.message}`);
	});
	const n8nDir = install.stdout.trim().split('\n').at(-1)!;
	timings[install.stderr.includes('installing n8n') ? 'install n8n (fresh)' : 'install n8n (cached)'] = Date.now() - started;

	if (process.env.E2E_SKIP_BUILD !== '1') {
		started = Date.now();
		await run('npm', ['run', 'build'], { cwd: repoDir, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
			throw new Error(`npm run build failed:\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
		});
		timings['npm run build'] = Date.now() - started;
	}
	project.provide('n8nDir', n8nDir);
	project.provide('setupTimings', timings);
}
