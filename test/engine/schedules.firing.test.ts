import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

interface TaskOfSchedule {
	id: string;
	state: string;
	occurrence: string;
	dueAt: Date;
	createdAt: Date;
	attemptCount: number;
}

async function tasksOf(te: TestEngine, scheduleId: string): Promise<TaskOfSchedule[]> {
	const { rows } = await te.engine.pool.query<TaskOfSchedule>(
		`SELECT id, state, schedule->>'occurrence' AS occurrence, due_at AS "dueAt", created_at AS "createdAt", attempt_count AS "attemptCount"
		 FROM tasks WHERE schedule_id = $1 ORDER BY schedule->>'occurrence'`,
		[scheduleId],
	);
	return rows;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

describe('schedules fire each occurrence once, on time, with three engines', () => {
	const schema = freshSchema();
	const engines: TestEngine[] = [];
	let receiver: Awaited<ReturnType<typeof startReceiver>>;

	beforeAll(async () => {
		receiver = await startReceiver();
		// The default safety-net poll (2 s): lateness must come from the dispatcher's due-time timer.
		for (let i = 0; i < 3; i++) engines.push(await startTestEngine({ POLL_INTERVAL_MS: '2000' }, { schema, keepSchema: true }));
	});
	afterAll(async () => {
		for (const te of engines) await te.stop();
		await receiver?.close();
		await dropSchema(schema);
	});

	it('a 6-field cron every 2 s fires at the second boundary, each occurrence exactly once', async () => {
		const [a, b, c] = engines;
		expect((await a.api('POST', '/v1/queues', { name: 'cron' })).status).toBe(201);
		expect((await a.api('POST', '/v1/queues/cron/handlers', { url: receiver.url })).status).toBe(201);
		const created = await b.api('POST', '/v1/schedules', { name: 'every-2s', queue: 'cron', cron: '*/2 * * * * *', payload: { n: 1 } });
		expect(created.status).toBe(201);
		const id: string = created.body.id;

		await eventually(() => receiver.requests.filter((r) => r.json?.schedule?.id === id).length >= 8, 40_000, '8 deliveries');
		expect((await c.api('POST', `/v1/schedules/${id}/pause`)).status).toBe(200);
		// Tasks created ahead for occurrences after the pause were withdrawn; the rest finish.
		const tasks = await eventually(async () => {
			const all = await tasksOf(a, id);
			return all.every((t) => t.state === 'completed' || t.state === 'cancelled') ? all : undefined;
		}, 15_000, 'tasks to settle');

		// One task per occurrence, occurrences every 2 s without a gap, on even seconds.
		const occurrences = tasks.map((t) => t.occurrence);
		expect(new Set(occurrences).size).toBe(occurrences.length);
		const times = occurrences.map((o) => Date.parse(o));
		for (const t of times) expect(t % 2000).toBe(0);
		for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(2000);
		// Due at its occurrence — or, for an occurrence the enqueuer reached only after its instant (a
		// schedule created just before a boundary, on a loaded machine), at once: the task's own write.
		for (const t of tasks) expect(t.dueAt.getTime(), JSON.stringify(t)).toBe(Math.max(Date.parse(t.occurrence), t.createdAt.getTime()));
		for (const t of tasks) expect(t.attemptCount, JSON.stringify(t)).toBeLessThanOrEqual(1);

		// Every completed task was delivered exactly once; nothing else was delivered.
		const deliveries = receiver.requests.filter((r) => r.json?.schedule?.id === id);
		const completed = tasks.filter((t) => t.state === 'completed');
		expect(completed.length).toBeGreaterThanOrEqual(8);
		expect(deliveries.map((r) => r.headers['webhook-id']).sort()).toEqual(completed.map((t) => t.id).sort());
		const dueAtOf = new Map(tasks.map((t) => [t.id, t.dueAt.toISOString()]));
		for (const r of deliveries) {
			expect(r.json).toMatchObject({ name: 'every-2s', payload: { n: 1 }, schedule: { id, name: 'every-2s' } });
			// scheduledFor is the task's due time: the occurrence, or the task's write when that came later.
			expect(r.json.scheduledFor).toBe(dueAtOf.get(r.json.id));
		}

		const lateness = deliveries.map((r) => r.at - Date.parse(r.json.schedule.occurrence)).sort((x, y) => x - y);
		const fires = engines.map((te) => te.engine.scheduleEnqueuer.firesTotal);
		// Where the time goes: created (ahead of the occurrence), claimed by a dispatcher (start − due).
		const { rows: timing } = await a.engine.pool.query<{ ahead: number; start: number }>(
			`SELECT extract(epoch FROM (t.schedule->>'occurrence')::timestamptz - t.created_at) * 1000 AS ahead,
			   extract(epoch FROM a.started_at - t.due_at) * 1000 AS start
			 FROM tasks t JOIN attempts a ON a.task_id = t.id WHERE t.schedule_id = $1`,
			[id],
		);
		console.log(`created ahead of the occurrence (ms): ${timing.map((t) => Math.round(t.ahead)).join(' ')}; attempt start − due (ms): ${timing.map((t) => Math.round(t.start)).join(' ')}`);
		console.log(
			`schedule lateness over ${lateness.length} deliveries (arrival at the receiver - occurrence): p50 ${percentile(lateness, 50)} ms, ` +
				`p99 ${percentile(lateness, 99)} ms, max ${lateness[lateness.length - 1]} ms; tasks created per engine: ${fires.join(', ')}`,
		);
		expect(fires.reduce((x, y) => x + y, 0)).toBe(tasks.length);
		expect(lateness[0]).toBeGreaterThanOrEqual(-20);
		expect(lateness[lateness.length - 1]).toBeLessThan(1500);
	});
});

describe('misfire after the engines were stopped over occurrences', () => {
	const schema = freshSchema();
	afterAll(async () => dropSchema(schema));

	it('skip drops them; run_once fires the latest once; neither fires twice after another restart', async () => {
		// No background loops: the enqueuer runs only when the test calls it, with a clock that
		// stands 22 minutes after the schedules' next occurrence, as if no engine ran meanwhile.
		const first = await startTestEngine({}, { schema, keepSchema: true, background: false });
		expect((await first.api('POST', '/v1/queues', { name: 'mq' })).status).toBe(201);
		const make = async (name: string, body: Record<string, unknown>) => (await first.api('POST', '/v1/schedules', { name, queue: 'mq', ...body })).body;
		const skip = await make('cron-skip', { cron: '*/10 * * * *', misfire: 'skip' });
		const once = await make('cron-once', { cron: '*/10 * * * *', misfire: 'run_once' });
		// An interval counted from the same instant: its occurrences are the cron's.
		const intervalOnce = await make('interval-once', { everySeconds: 600, startAt: once.nextFireAt, misfire: 'run_once' });
		expect(intervalOnce.nextFireAt).toBe(once.nextFireAt);
		await first.stop();

		const second = await startTestEngine({}, { schema, keepSchema: true, background: false });
		try {
			const at = (s: { nextFireAt: string }, minutes: number) => new Date(Date.parse(s.nextFireAt) + minutes * 60_000);
			const counts = await second.engine.scheduleEnqueuer.runOnce(at(once, 22));
			expect(counts).toMatchObject({ fired: 2, missed: 3, failed: 0 });

			expect(await tasksOf(second, skip.id)).toEqual([]);
			const [caughtUp, ...more] = await tasksOf(second, once.id);
			expect(more).toEqual([]);
			expect(caughtUp.occurrence).toBe(at(once, 20).toISOString());
			const [intervalTask] = await tasksOf(second, intervalOnce.id);
			expect(intervalTask.occurrence).toBe(at(intervalOnce, 20).toISOString());

			for (const s of [skip, once]) {
				const now = (await second.api('GET', `/v1/schedules/${s.id}`)).body;
				expect(now.nextFireAt).toBe(at(s, 30).toISOString());
			}
			expect((await second.api('GET', `/v1/schedules/${once.id}`)).body.lastFireAt).toBe(at(once, 20).toISOString());

			// The same instant again (another engine, a restart): nothing more.
			await second.stop();
			const third = await startTestEngine({}, { schema, keepSchema: true, background: false });
			expect(await third.engine.scheduleEnqueuer.runOnce(at(once, 22))).toMatchObject({ fired: 0, missed: 0 });
			// And then back to normal: the next occurrence fires ahead of time, due at its instant.
			expect(await third.engine.scheduleEnqueuer.runOnce(new Date(at(once, 30).getTime() - 3000))).toMatchObject({ fired: 3, missed: 0 });
			const next = (await tasksOf(third, skip.id))[0];
			expect(next.occurrence).toBe(at(skip, 30).toISOString());
			expect(next.dueAt.toISOString()).toBe(at(skip, 30).toISOString());
			await third.stop();
		} finally {
			await second.stop();
		}
	});
});

describe('overlap, pause, resume and run', () => {
	let te: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	beforeAll(async () => {
		receiver = await startReceiver();
		te = await startTestEngine();
	});
	afterAll(async () => {
		await te?.stop();
		await receiver?.close();
	});

	it('overlap skip does not fire while the previous task is still queued; allow does', async () => {
		expect((await te.api('POST', '/v1/queues', { name: 'oq', paused: true })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/oq/handlers', { url: receiver.url })).status).toBe(201);
		const skip = (await te.api('POST', '/v1/schedules', { name: 'overlap-skip', queue: 'oq', everySeconds: 1, overlap: 'skip' })).body;
		const allow = (await te.api('POST', '/v1/schedules', { name: 'overlap-allow', queue: 'oq', everySeconds: 1 })).body;

		// While the queue is paused the first task of each stays queued.
		await eventually(async () => (await tasksOf(te, allow.id)).filter((t) => Date.parse(t.occurrence) <= Date.now()).length >= 4, 20_000, 'allow to pile up');
		const held = await tasksOf(te, skip.id);
		expect(held).toHaveLength(1);
		expect(held[0].state).toBe('queued');
		await eventually(() => te.engine.scheduleEnqueuer.overlapSkippedTotal >= 2, 10_000, 'overlap skips');
		const moved = (await te.api('GET', `/v1/schedules/${skip.id}`)).body;
		expect(Date.parse(moved.nextFireAt)).toBeGreaterThan(Date.parse(held[0].occurrence) + 2000);

		// Once the previous run finished, the schedule fires again.
		expect((await te.api('POST', '/v1/queues/oq/resume')).status).toBe(200);
		await eventually(async () => {
			const tasks = await tasksOf(te, skip.id);
			return tasks.length >= 3 && tasks[0].state === 'completed';
		}, 20_000, 'overlap-skip to fire again');
		for (const s of [skip, allow]) expect((await te.api('POST', `/v1/schedules/${s.id}/pause`)).status).toBe(200);
	});

	it('pause stops firing (and withdraws a task created ahead), run fires once while paused, resume continues', async () => {
		expect((await te.api('POST', '/v1/queues', { name: 'pq' })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues/pq/handlers', { url: receiver.url })).status).toBe(201);
		const s = (await te.api('POST', '/v1/schedules', { name: 'pausable', queue: 'pq', taskName: 'tick', everySeconds: 1 })).body;
		const delivered = () => receiver.requests.filter((r) => r.json?.schedule?.id === s.id);
		await eventually(() => delivered().length >= 2, 20_000, 'two deliveries');

		const paused = await te.api('POST', `/v1/schedules/${s.id}/pause`);
		expect(paused.body).toMatchObject({ paused: true, nextFireAt: null });
		const afterPause = await tasksOf(te, s.id);
		expect(afterPause.filter((t) => t.state === 'queued' && t.dueAt.getTime() > Date.now())).toEqual([]);
		// A minute later by the enqueuer's clock: still nothing new for a paused schedule.
		await te.engine.scheduleEnqueuer.runOnce(new Date(Date.now() + 60_000));
		expect(await tasksOf(te, s.id)).toHaveLength(afterPause.length);

		const run = await te.api('POST', `/v1/schedules/${s.id}/run`);
		expect(run.status).toBe(201);
		expect(run.body).toMatchObject({ queue: 'pq', name: 'tick', schedule: { id: s.id, name: 'pausable' } });
		expect(Math.abs(Date.parse(run.body.schedule.occurrence) - Date.now())).toBeLessThan(5000);
		const ran = await eventually(() => delivered().find((r) => r.json.id === run.body.id), 10_000, 'the run task');
		expect(ran.json.schedule).toEqual(run.body.schedule);
		expect((await te.api('GET', `/v1/schedules/${s.id}`)).body.paused).toBe(true);

		const resumedAt = Date.now();
		const resumed = await te.api('POST', `/v1/schedules/${s.id}/resume`);
		expect(resumed.body.paused).toBe(false);
		expect(Date.parse(resumed.body.nextFireAt)).toBeGreaterThan(resumedAt - 1000);
		await eventually(() => delivered().some((r) => r.json.id !== run.body.id && Date.parse(r.json.schedule.occurrence) > resumedAt), 20_000, 'a fire after resume');
		expect((await te.api('DELETE', `/v1/schedules/${s.id}`)).status).toBe(204);
	});
});
