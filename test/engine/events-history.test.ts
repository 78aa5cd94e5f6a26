import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * GET /v1/queues/{name}/history (the dashboard's charts) from the attempts table, and the event log
 * under the writers that are not HTTP requests: the rescuer's lost deliveries and the trimmer.
 */
describe('queue history and the event log', () => {
	let te: TestEngine;
	const sql = (text: string, values: unknown[] = []) => te.engine.pool.query(text, values);

	beforeAll(async () => {
		te = await startTestEngine({}, { background: false });
		for (const name of ['hist', 'hist-other']) expect((await te.api('POST', '/v1/queues', { name, paused: true })).status).toBe(201);
	});
	afterAll(async () => te?.stop());

	/** A task of `queue` in `state` after `attempts` (outcome, lateness ms, error class), started `minutesAgo` minutes back. */
	async function taskWithAttempts(queue: string, state: string, minutesAgo: number, attempts: [string, number, string | null][]) {
		const task = (await te.api('POST', '/v1/tasks', { queue, name: 'h' })).body;
		// As settlement writes a final task: finished when its last attempt ended.
		await sql(`UPDATE tasks SET state = $2, attempt_count = $3, finished_at = CASE WHEN $2 IN ('completed', 'failed') THEN now() END WHERE id = $1`, [task.id, state, attempts.length]);
		for (const [i, [outcome, latenessMs, errorClass]] of attempts.entries()) {
			await sql(
				`INSERT INTO attempts (task_id, queue, number, started_at, due_at, duration_ms, outcome, error_class)
				 SELECT $1, $2, $3, m + make_interval(secs => 10 + $3), m + make_interval(secs => 10 + $3) - make_interval(secs => $5::float8 / 1000), 5, $4, $6
				 FROM (SELECT date_trunc('minute', now()) - make_interval(mins => $7) AS m) x`,
				[task.id, queue, i + 1, outcome, latenessMs, errorClass, minutesAgo],
			);
		}
	}

	it('answers one point per minute, oldest first, zero-filled, with completed, failed, retried and lateness', async () => {
		await taskWithAttempts('hist', 'completed', 2, [['delivered', 100, null]]);
		await taskWithAttempts('hist', 'completed', 2, [['delivered', 200, null]]);
		await taskWithAttempts('hist', 'completed', 2, [['delivered', 300, null]]);
		// A final answer: a dead letter. The last attempt of a spent budget: a dead letter too.
		await taskWithAttempts('hist', 'failed', 1, [['failed', 50, null]]);
		await taskWithAttempts('hist', 'failed', 1, [['retry', 10, 'http_status'], ['retry', 20, 'timeout']]);
		// A failure to be retried; an attempt given back at shutdown (counted nowhere); another queue.
		await taskWithAttempts('hist', 'retrying', 1, [['retry', 30, 'connection']]);
		await taskWithAttempts('hist', 'queued', 1, [['retry', 40, 'aborted']]);
		await taskWithAttempts('hist-other', 'completed', 1, [['delivered', 5, null]]);
		const { rows } = await sql(`SELECT date_trunc('minute', now()) AS m`);
		const current = (rows[0].m as Date).getTime();

		const res = await te.api('GET', '/v1/queues/hist/history?minutes=5');
		expect(res.status).toBe(200);
		expect(res.body.queue).toBe('hist');
		expect(res.body.minutes).toBe(5);
		const points = res.body.points as { at: string; completed: number; failed: number; retried: number; latenessMsP50: number | null; latenessMsP95: number | null }[];
		expect(points).toHaveLength(5);
		const times = points.map((p) => Date.parse(p.at));
		for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(60_000);
		const at = (minutesAgo: number) => points.find((p) => Date.parse(p.at) === current - minutesAgo * 60_000);
		expect(at(2)).toEqual({ at: new Date(current - 120_000).toISOString(), completed: 3, failed: 0, retried: 0, latenessMsP50: 200, latenessMsP95: 300 });
		expect(at(1)).toMatchObject({ completed: 0, failed: 2, retried: 2 });
		expect(at(1)?.latenessMsP50).toBe(20);
		expect(at(4)).toMatchObject({ completed: 0, failed: 0, retried: 0, latenessMsP50: null, latenessMsP95: null });
	});

	it('defaults to 60 minutes; minutes outside 1–1440 and unknown queues are refused', async () => {
		expect((await te.api('GET', '/v1/queues/hist/history')).body.points).toHaveLength(60);
		expect((await te.api('GET', '/v1/queues/hist/history?minutes=1440')).body.points).toHaveLength(1440);
		for (const bad of ['0', '1441', 'ten', '1.5']) {
			const res = await te.api('GET', `/v1/queues/hist/history?minutes=${bad}`);
			expect(res.status, bad).toBe(400);
			expect(res.body.error.details[0].field).toBe('querystring.minutes');
		}
		const missing = await te.api('GET', '/v1/queues/nope/history');
		expect(missing.status).toBe(404);
		expect(missing.body.error.code).toBe('queue_not_found');
		expect((await te.api('GET', '/v1/queues/hist/history?window=5')).status).toBe(400);
	});

	it('logs the rescuer\'s lost deliveries (a writer outside the API) and trims beyond the window', async () => {
		const task = (await te.api('POST', '/v1/tasks', { queue: 'hist', name: 'lost', retry: { limit: 0 } })).body;
		// As if an engine claimed it and died: active, attempt 1, lease already over.
		await sql(`UPDATE tasks SET state = 'active', attempt_count = 1, started_at = now(), lease_expires_at = now() - interval '1 second', engine_id = gen_random_uuid() WHERE id = $1`, [task.id]);
		expect((await te.engine.rescuer.runOnce()).rescued).toBe(1);
		const { rows } = await sql(`SELECT kind, state, attempt FROM task_events WHERE task_id = $1 ORDER BY id`, [task.id]);
		expect(rows).toEqual([
			{ kind: 'state', state: 'queued', attempt: 0 },
			{ kind: 'state', state: 'active', attempt: 1 },
			{ kind: 'state', state: 'failed', attempt: 1 },
			{ kind: 'dead_lettered', state: 'failed', attempt: 1 },
		]);
		// An update that changes no visible state logs nothing.
		await sql(`UPDATE tasks SET last_error = 'noted' WHERE id = $1`, [task.id]);
		expect((await sql(`SELECT count(*)::int AS n FROM task_events WHERE task_id = $1`, [task.id])).rows[0].n).toBe(4);

		const { rows: before } = await sql(`SELECT max(id)::float8 AS max, count(*)::int AS n FROM task_events`);
		expect((await te.engine.eventLogTrimmer.runOnce(new Date(Date.now() + 60_000))).trimmed).toBe(0);
		expect((await te.engine.eventLogTrimmer.runOnce(new Date(Date.now() + 10 * 60_000))).trimmed).toBe(before[0].n);
		const { rows: horizon } = await sql(`SELECT trimmed_through::float8 AS t FROM task_event_horizon`);
		expect(horizon[0].t).toBe(before[0].max);
	});
});
