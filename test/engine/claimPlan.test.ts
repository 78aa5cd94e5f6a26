import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobTable } from '../../engine/src/dispatch/jobSql.js';
import { countAndClaim } from '../../engine/src/tasks/claimSql.js';
import { startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';

/**
 * The claim of a default queue runs after every delivery. PostgreSQL plans a prepared statement
 * anew on each run unless its generic plan looks no worse than the ones made for the values; the
 * claim's planning took longer than its run (1.5 ms against 0.9 ms) until the fetch was written so
 * that its generic plan walks pg-boss's job_i11 index instead of sorting the queue's jobs.
 */
describe('the plan of a default queue\'s claim', () => {
	let te: TestEngine;
	let client: pg.Client;
	const QUEUE = 'planned';
	const TASKS = 3000;

	beforeAll(async () => {
		te = await startTestEngine();
		expect((await te.api('POST', '/v1/queues', { name: QUEUE, paused: true })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/planned/handlers', { url: 'http://127.0.0.1:9/never-called' })).status).toBe(201);
		for (let i = 0; i < TASKS; i += 1000) {
			const tasks = Array.from({ length: 1000 }, (_, k) => ({ queue: QUEUE, name: 'job', priority: (i + k) % 3, payload: { n: i + k } }));
			expect((await te.api('POST', '/v1/tasks/bulk', { tasks })).status).toBe(201);
		}
		client = new pg.Client({ connectionString: testDatabaseUrl() });
		await client.connect();
		await client.query(`SET search_path TO "${te.schema}"`);
		// What autovacuum would know of the tables by now.
		await client.query(`ANALYZE tasks; ANALYZE "${te.schema}_pgboss".job_common`);
	}, 60_000);

	afterAll(async () => {
		await client?.end();
		await te?.stop();
	});

	it('is planned once: after PostgreSQL\'s five trial runs it keeps the generic plan, which claims the same tasks', async () => {
		const room = { queue: QUEUE, engineId: randomUUID(), wanted: 10, concurrency: 10, fairShare: false, engineDeadAfterSeconds: 30 };
		const claimed: string[][] = [];
		for (let run = 0; run < 8; run++) {
			// Rolled back: each run claims the same ten, of the highest priority and the oldest call.
			// (Jobs inserted by one statement share their creation time: which ten of those is not fixed.)
			await client.query('BEGIN');
			const { claim } = await countAndClaim(client, jobTable(`${te.schema}_pgboss`), room, [], 30);
			await client.query('ROLLBACK');
			claimed.push(claim.tasks.map((t) => t.id).sort());
			expect(claim.tasks).toHaveLength(10);
			for (const task of claim.tasks) {
				expect(task.priority).toBe(2);
				expect((task.payload as { n: number }).n).toBeLessThan(1000);
			}
		}
		expect(new Set(claimed.map((ids) => ids.join()))).toHaveProperty('size', 1);
		const { rows } = await client.query<{ generic: string; custom: string }>(
			"SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE name = 'claim-count-fetch-activate'",
		);
		expect(rows).toHaveLength(1);
		// Runs 1–5 are custom plans by rule; from the sixth on, the generic plan is chosen when it is as cheap.
		expect(Number(rows[0].custom)).toBe(5);
		expect(Number(rows[0].generic)).toBe(3);
	});
});
