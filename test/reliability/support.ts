import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startReceiver, type Reply } from '../helpers/receiver.js';

/** Shared pieces of the reliability suite: a counting handler, a seeded random source, database views. */

export const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const API_KEY = 'reliability-key-0123456789';

/** A small seeded PRNG (mulberry32): the same run every time for the same seed. */
export function seededRandom(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/**
 * A real HTTP handler on loopback that takes `minMs`–`maxMs` per task and counts deliveries per task
 * id (the `webhook-id` header), so a test can tell lost tasks from duplicates.
 */
export async function startCountingHandler(opts: { seed: number; minMs: number; maxMs: number; answer?: (id: string) => Reply | null }) {
	const random = seededRandom(opts.seed);
	const deliveries = new Map<string, number>();
	const receiver = await startReceiver((req) => {
		const id = String(req.headers['webhook-id']);
		deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
		const delayMs = Math.round(opts.minMs + random() * (opts.maxMs - opts.minMs));
		return { delayMs, ...(opts.answer?.(id) ?? { body: { handled: id } }) };
	});
	return {
		url: receiver.url,
		deliveries,
		/** Task ids delivered more than once. */
		duplicates: () => [...deliveries.values()].filter((n) => n > 1).length,
		totalRequests: () => receiver.requests.length,
		close: () => receiver.close(),
	};
}

/** A plain connection to the engine's schema, for reading what the engine wrote. */
export async function openSchema(databaseUrl: string, schema: string) {
	const client = new pg.Client({ connectionString: databaseUrl });
	client.on('error', () => undefined); // the database may be restarted under it
	await client.connect();
	await client.query(`SET search_path TO "${schema}"`);
	return client;
}

/** Task counts by stored state. */
export async function countByState(db: pg.Client): Promise<Record<string, number>> {
	const { rows } = await db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM tasks GROUP BY state');
	return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | false | undefined>): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const value = await check();
			if (value !== false && value !== undefined) return value;
		} catch (error) {
			last = error;
		}
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ''}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

/** A scratch folder the `postgres` OS user can enter (an embedded cluster may live in it). */
export async function scratchDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
	const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
	await chmod(dir, 0o755);
	return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** One line of figures, in the suite's output. */
export function report(name: string, figures: Record<string, unknown>): void {
	const text = Object.entries(figures)
		.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
		.join(' ');
	console.log(`[reliability] ${name}: ${text}`);
}
