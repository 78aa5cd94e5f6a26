import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../engine/src/app.js';
import { loadConfig, type Config } from '../../engine/src/config.js';
import { silentLogger, createLogger } from '../../engine/src/log.js';

export const TEST_API_KEY = 'test-key-0123456789abcdef';

export function testDatabaseUrl(): string {
	return inject('databaseUrl');
}

/** A fresh schema name for one test file (or a group of engines sharing one database). */
export function freshSchema(): string {
	return `t_${randomBytes(5).toString('hex')}`;
}

export interface TestEngine {
	engine: Engine;
	schema: string;
	/** Calls the API in-process (fastify inject) with the test key unless `auth: false`. */
	api<T = any>(method: string, url: string, body?: unknown, opts?: { auth?: boolean | string; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Record<string, unknown> }>;
	stop(): Promise<void>;
}

/**
 * Starts a real engine on the test database in its own schema. `env` overrides settings as
 * environment variables would. Stop drops the schema unless another engine still shares it
 * (`keepSchema`).
 */
export async function startTestEngine(
	env: Record<string, string> = {},
	options: EngineOptions & { schema?: string; keepSchema?: boolean } = {},
): Promise<TestEngine> {
	const schema = options.schema ?? freshSchema();
	const config: Config = loadConfig({
		DATABASE_URL: testDatabaseUrl(),
		DATABASE_SCHEMA: schema,
		API_KEYS: TEST_API_KEY,
		POLL_INTERVAL_MS: '500',
		SHUTDOWN_GRACE_SECONDS: '2',
		...env,
	});
	const log = process.env.TEST_LOG_LEVEL ? createLogger(process.env.TEST_LOG_LEVEL as never) : silentLogger();
	const engine = await createEngine(config, log, options);
	await engine.server.ready();
	return {
		engine,
		schema,
		async api(method, url, body, opts = {}) {
			const headers: Record<string, string> = { ...opts.headers };
			if (opts.auth !== false) headers.authorization = `Bearer ${typeof opts.auth === 'string' ? opts.auth : TEST_API_KEY}`;
			const res = await engine.server.inject({ method: method as never, url, headers, ...(body === undefined ? {} : typeof body === 'string' ? { payload: body } : { payload: body as object }) });
			let parsed: unknown = res.body;
			try {
				parsed = res.body === '' ? null : JSON.parse(res.body);
			} catch {
				// not JSON: keep the text
			}
			return { status: res.statusCode, body: parsed as never, headers: res.headers as Record<string, unknown> };
		},
		async stop() {
			await engine.stop();
			if (!options.keepSchema) await dropSchema(schema);
		},
	};
}

export async function dropSchema(schema: string): Promise<void> {
	const client = new pg.Client({ connectionString: testDatabaseUrl() });
	await client.connect();
	try {
		await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
		await client.query(`DROP SCHEMA IF EXISTS "${schema}_pgboss" CASCADE`);
	} finally {
		await client.end();
	}
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const value = await check();
			if (value !== undefined && value !== false) return value as T;
		} catch (error) {
			last = error;
		}
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
		await new Promise((r) => setTimeout(r, 25));
	}
}
