import os from 'node:os';
import path from 'node:path';
import { mkdir, chmod } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../engine/src/db/embeddedPostgres.js';
import { silentLogger } from '../../engine/src/log.js';

declare module 'vitest' {
	export interface ProvidedContext {
		databaseUrl: string;
	}
}

let embedded: EmbeddedPostgres | null = null;

/**
 * The tests' PostgreSQL: TEST_DATABASE_URL when set (CI points it at the machine's server),
 * otherwise an embedded one started once for the whole run. Each test file then works in its own
 * schema (see helpers/engine.ts).
 */
export async function setup(project: TestProject): Promise<void> {
	let url = process.env.TEST_DATABASE_URL;
	if (!url) {
		const dataDir = path.join(os.tmpdir(), 'background-tasks-test-pg');
		await mkdir(dataDir, { recursive: true });
		await chmod(dataDir, 0o755);
		embedded = await startEmbeddedPostgres({
			dataDir,
			port: Number(process.env.TEST_EMBEDDED_PG_PORT ?? 54391),
			// Only used when the postgres OS user cannot reach dataDir or the binaries; never the machine's /var/lib.
			sharedDir: path.join(os.tmpdir(), 'background-tasks-test-pg-shared'),
			log: silentLogger(),
		});
		url = embedded.connectionString;
	}
	project.provide('databaseUrl', url);
}

export async function teardown(): Promise<void> {
	await embedded?.stop();
}
