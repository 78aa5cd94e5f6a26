import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

// The dispatcher is off here: these tests look at what the API stores, not at delivery.
describe('tasks API', () => {
	let te: TestEngine;
	beforeAll(async () => {
		te = await startTestEngine({ PAYLOAD_LIMIT_BYTES: '1024', IDEMPOTENCY_WINDOW_SECONDS: '2' }, { background: false });
		await te.api('POST', '/v1/queues', { name: 'mail', timeoutSeconds: 45 });
		await te.api('POST', '/v1/queues', { name: 'other' });
	});
	afterAll(async () => te?.stop());

	it('enqueues with defaults merged task over queue over priority class', async () => {
		const res = await te.api('POST', '/v1/tasks', { queue: 'mail', name: 'send', payload: { to: 'a@b.c' }, priority: 'high', retry: { limit: 1 } });
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({
			queue: 'mail',
			name: 'send',
			state: 'queued',
			payload: { to: 'a@b.c' },
			priority: 10,
			retry: { limit: 1, delaySeconds: 60, backoff: 'exponential', maxDelaySeconds: 3600 },
			timeoutSeconds: 45,
			maxAttempts: 2,
			attemptCount: 0,
		});
		const low = await te.api('POST', '/v1/tasks', { queue: 'other', name: 'x', priority: -5 });
		expect(low.body).toMatchObject({ priority: -5, retry: { limit: 2 }, timeoutSeconds: 300, maxAttempts: 3 });
		const normal = await te.api('POST', '/v1/tasks', { queue: 'other', name: 'x' });
		expect(normal.body).toMatchObject({ priority: 0, retry: { limit: 3 }, timeoutSeconds: 60, payload: {} });
		const got = await te.api('GET', `/v1/tasks/${res.body.id}`);
		expect(got.body.attempts).toEqual([]);
	});

	it('computes due times from delaySeconds or runAt and shows not-yet-due tasks as scheduled', async () => {
		const delayed = await te.api('POST', '/v1/tasks', { queue: 'mail', name: 'later', delaySeconds: 120 });
		expect(delayed.body.state).toBe('scheduled');
		const lag = Date.parse(delayed.body.dueAt) - Date.parse(delayed.body.createdAt);
		expect(lag).toBeGreaterThanOrEqual(119_000);
		expect(lag).toBeLessThanOrEqual(121_000);
		const runAt = new Date(Date.now() + 3600_000).toISOString();
		const at = await te.api('POST', '/v1/tasks', { queue: 'mail', name: 'at', runAt });
		expect(at.body.dueAt).toBe(runAt);
		const scheduled = await te.api('GET', '/v1/tasks?queue=mail&state=scheduled');
		expect(scheduled.body.items.map((t: { id: string }) => t.id).sort()).toEqual([delayed.body.id, at.body.id].sort());
	});

	it('answers a repeated idempotency key with the original task, and a different payload with 409', async () => {
		const first = await te.api('POST', '/v1/tasks', { queue: 'other', name: 'charge', payload: { order: 1 }, idempotencyKey: 'order-1' });
		expect(first.status).toBe(201);
		const repeat = await te.api('POST', '/v1/tasks', { queue: 'other', name: 'charge', payload: { order: 1 }, idempotencyKey: 'order-1' });
		expect(repeat.status).toBe(200);
		expect(repeat.body.id).toBe(first.body.id);
		const clash = await te.api('POST', '/v1/tasks', { queue: 'other', name: 'charge', payload: { order: 2 }, idempotencyKey: 'order-1' });
		expect(clash.status).toBe(409);
		expect(clash.body.error.details[0].field).toBe('idempotencyKey');
		// keys are scoped to a queue
		const elsewhere = await te.api('POST', '/v1/tasks', { queue: 'mail', name: 'charge', payload: { order: 2 }, idempotencyKey: 'order-1' });
		expect(elsewhere.status).toBe(201);
		// concurrent repeats still make one task
		const racing = await Promise.all(
			Array.from({ length: 10 }, () => te.api('POST', '/v1/tasks', { queue: 'other', name: 'race', payload: {}, idempotencyKey: 'race-1' })),
		);
		expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
		expect(racing.filter((r) => r.status === 201)).toHaveLength(1);
		// after the window the key can be used again: the window is kept by the database clock, so
		// the test moves the key's expiry into the past instead of waiting for it
		await te.engine.pool.query(`UPDATE tasks SET idempotency_expires_at = now() - interval '1 second' WHERE queue = 'other' AND idempotency_key = 'order-1'`);
		const later = await te.api('POST', '/v1/tasks', { queue: 'other', name: 'charge', payload: { order: 3 }, idempotencyKey: 'order-1' });
		expect(later.status).toBe(201);
		expect(later.body.id).not.toBe(first.body.id);
	});

	it('bulk-enqueues all or nothing, reporting the index of a bad item', async () => {
		const ok = await te.api('POST', '/v1/tasks/bulk', {
			tasks: [
				{ queue: 'mail', name: 'b', payload: { i: 0 }, idempotencyKey: 'bulk-0' },
				{ queue: 'other', name: 'b', payload: { i: 1 } },
			],
		});
		expect(ok.status).toBe(201);
		expect(ok.body.items.map((t: { created: boolean }) => t.created)).toEqual([true, true]);
		const repeat = await te.api('POST', '/v1/tasks/bulk', { tasks: [{ queue: 'mail', name: 'b', payload: { i: 0 }, idempotencyKey: 'bulk-0' }] });
		expect(repeat.body.items[0]).toMatchObject({ id: ok.body.items[0].id, created: false });

		const before = (await te.api('GET', '/v1/tasks?limit=500')).body.items.length;
		const bad = await te.api('POST', '/v1/tasks/bulk', { tasks: [{ queue: 'mail', name: 'b' }, { queue: 'mail', name: 'b', delaySeconds: -1 }] });
		expect(bad.status).toBe(400);
		expect(bad.body.error.details[0].field).toBe('tasks[1].delaySeconds');
		const conflict = await te.api('POST', '/v1/tasks/bulk', {
			tasks: [{ queue: 'mail', name: 'b' }, { queue: 'mail', name: 'b', payload: { i: 9 }, idempotencyKey: 'bulk-0' }],
		});
		expect(conflict.status).toBe(409);
		expect(conflict.body.error.details[0].field).toBe('tasks[1].idempotencyKey');
		const unknownQueue = await te.api('POST', '/v1/tasks/bulk', { tasks: [{ queue: 'mail', name: 'b' }, { queue: 'nope', name: 'b' }] });
		expect(unknownQueue.status).toBe(404);
		expect(unknownQueue.body.error.details[0].field).toBe('tasks[1].queue');
		const tooMany = await te.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 1001 }, () => ({ queue: 'mail', name: 'b' })) });
		expect(tooMany.status).toBe(400);
		expect(tooMany.body.error.details[0].field).toBe('tasks');
		expect((await te.api('GET', '/v1/tasks?limit=500')).body.items.length).toBe(before);
	});


	// The enqueue reads back only the times the database set; the rest of its answer is built from
	// what it wrote (tasks/taskSql.ts, insertedRow). That answer must be the stored task, field for field.
	it('answers an enqueue, single or bulk, with the task exactly as stored', async () => {
		await te.api('POST', '/v1/queues', { name: 'keyed', keyConcurrency: 1 });
		const full = {
			queue: 'keyed',
			name: 'everything',
			payload: { zeta: [1, 2.5, 'x'], a: { nested: true }, mid: null },
			url: 'http://127.0.0.1:9/hook',
			priority: 'high',
			retry: { limit: 4, delaySeconds: 7 },
			timeoutSeconds: 90,
			asyncTimeoutSeconds: 600,
			concurrencyKey: 'customer-1',
		};
		const answers = [
			(await te.api('POST', '/v1/tasks', { ...full, idempotencyKey: 'stored-1', delaySeconds: 30 })).body,
			(await te.api('POST', '/v1/tasks', { queue: 'mail', name: 'plain' })).body,
			(await te.api('POST', '/v1/tasks', { queue: 'mail', name: 'debounced', debounce: { key: 'k', seconds: 60, mode: 'collect', maxWaitSeconds: 300 } })).body,
			...(
				await te.api('POST', '/v1/tasks/bulk', {
					tasks: [
						{ ...full, runAt: new Date(Date.now() + 3_600_123).toISOString() },
						// Due now, with a key its queue limits: written through the check for a line of parked tasks.
						{ ...full, name: 'first in line' },
						{ ...full, name: 'second in line' },
						{ queue: 'other', name: 'bare' },
					],
				})
			).body.items.map(({ created, ...task }: { created: boolean }) => (expect(created).toBe(true), task)),
		];
		expect(answers.map((a) => a.state)).toEqual(['scheduled', 'queued', 'scheduled', 'scheduled', 'queued', 'queued', 'queued']);
		for (const answer of answers) {
			const { attempts, ...stored } = (await te.api('GET', `/v1/tasks/${answer.id}`)).body;
			expect(attempts).toEqual([]);
			const { debounced, ...task } = answer;
			expect(task).toEqual(stored);
		}
	});
	it('rejects every kind of bad task input with a 4xx naming the field, writing nothing', async () => {
		const before = (await te.api('GET', '/v1/tasks?limit=500')).body.items.length;
		const farFuture = new Date(Date.now() + 400 * 86400_000).toISOString();
		const cases: [unknown, number, string][] = [
			[{ name: 'x' }, 400, 'queue'],
			[{ queue: 'mail' }, 400, 'name'],
			[{ queue: 'nope', name: 'x' }, 404, 'queue'],
			[{ queue: 'bad queue', name: 'x' }, 400, 'queue'],
			[{ queue: 'mail', name: 'x'.repeat(201) }, 400, 'name'],
			[{ queue: 'mail', name: 'x', payload: { big: 'y'.repeat(2000) } }, 413, 'payload'],
			[{ queue: 'mail', name: 'x', delaySeconds: -1 }, 400, 'delaySeconds'],
			[{ queue: 'mail', name: 'x', delaySeconds: 'soon' }, 400, 'delaySeconds'],
			[{ queue: 'mail', name: 'x', runAt: 'tomorrow' }, 400, 'runAt'],
			[{ queue: 'mail', name: 'x', runAt: farFuture }, 400, 'runAt'],
			[{ queue: 'mail', name: 'x', runAt: new Date().toISOString(), delaySeconds: 5 }, 400, 'runAt'],
			[{ queue: 'mail', name: 'x', priority: 101 }, 400, 'priority'],
			[{ queue: 'mail', name: 'x', priority: 'urgent' }, 400, 'priority'],
			[{ queue: 'mail', name: 'x', retry: { limit: -1 } }, 400, 'retry.limit'],
			[{ queue: 'mail', name: 'x', retry: { limit: 100000 } }, 400, 'retry.limit'],
			[{ queue: 'mail', name: 'x', timeoutSeconds: 0 }, 400, 'timeoutSeconds'],
			[{ queue: 'mail', name: 'x', timeoutSeconds: 3601 }, 400, 'timeoutSeconds'],
			[{ queue: 'mail', name: 'x', url: 'ftp://127.0.0.1/x' }, 400, 'url'],
			[{ queue: 'mail', name: 'x', url: 'http://u:p@127.0.0.1/x' }, 400, 'url'],
			[{ queue: 'mail', name: 'x', idempotencyKey: '' }, 400, 'idempotencyKey'],
			[{ queue: 'mail', name: 'x', extra: true }, 400, 'extra'],
		];
		for (const [body, status, field] of cases) {
			const res = await te.api('POST', '/v1/tasks', body);
			expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
			expect(res.body.error.details.map((d: { field: string }) => d.field), JSON.stringify(body).slice(0, 80)).toContain(field);
		}
		expect((await te.api('GET', '/v1/tasks/00000000-0000-4000-8000-000000000000')).status).toBe(404);
		expect((await te.api('GET', '/v1/tasks/not-a-uuid')).status).toBe(400);
		expect((await te.api('GET', '/v1/tasks?state=sleeping')).status).toBe(400);
		expect((await te.api('GET', '/v1/tasks?cursor=garbage')).status).toBe(400);
		expect((await te.api('GET', '/v1/tasks?limit=500')).body.items.length).toBe(before);
	});

	it('lists newest first with a stable cursor and filters by queue, state and name', async () => {
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) ids.push((await te.api('POST', '/v1/tasks', { queue: 'other', name: 'page', payload: { i } })).body.id);
		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await te.api('GET', `/v1/tasks?name=page&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
			seen.push(...res.body.items.map((t) => t.id));
			cursor = res.body.nextCursor;
			// a task arriving between pages must not shift the pages already read
			await te.api('POST', '/v1/tasks', { queue: 'other', name: 'page-noise' });
		} while (cursor);
		expect(seen).toEqual([...ids].reverse());
	});

	it('writes concurrent enqueues all or nothing per task: one whose queue vanished is a 404, its neighbours are stored with their jobs', async () => {
		await te.api('POST', '/v1/queues', { name: 'vanishing' });
		// Deleted behind the engine's back: its catalog still knows the queue, the database refuses the
		// task (foreign key), so the group it was written with fails and is written again task by task.
		await te.engine.pool.query(`DELETE FROM queues WHERE name = 'vanishing'`);
		const [lost, ...kept] = await Promise.all([
			te.api('POST', '/v1/tasks', { queue: 'vanishing', name: 'lost' }),
			...Array.from({ length: 5 }, (_, i) => te.api('POST', '/v1/tasks', { queue: 'other', name: 'neighbour', payload: { i } })),
		]);
		expect(lost.status).toBe(404);
		expect(lost.body.error.code).toBe('queue_not_found');
		expect(kept.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
		const { rows } = await te.engine.pool.query(
			`SELECT t.name, t.payload, j.name AS job_queue, j.data->>'taskId' AS job_task FROM tasks t
			 LEFT JOIN "${te.schema}_pgboss".job j ON j.id = t.job_id WHERE t.name IN ('lost', 'neighbour') ORDER BY t.payload->>'i'`,
		);
		expect(rows).toEqual(kept.map((r, i) => ({ name: 'neighbour', payload: { i }, job_queue: 'other', job_task: r.body.id })));
		const orphans = await te.engine.pool.query(`SELECT count(*)::int AS n FROM "${te.schema}_pgboss".job WHERE name = 'vanishing'`);
		expect(orphans.rows[0].n).toBe(0);
	});

	it('cancels only tasks that have not started, and retries cancelled or failed ones', async () => {
		const t = await te.api('POST', '/v1/tasks', { queue: 'mail', name: 'c', delaySeconds: 600 });
		const cancelled = await te.api('POST', `/v1/tasks/${t.body.id}/cancel`);
		expect(cancelled.status).toBe(200);
		expect(cancelled.body.state).toBe('cancelled');
		expect((await te.api('POST', `/v1/tasks/${t.body.id}/cancel`)).status).toBe(409);
		const retried = await te.api('POST', `/v1/tasks/${t.body.id}/retry`);
		expect(retried.status).toBe(200);
		expect(retried.body.state).toBe('queued');
		expect(Date.parse(retried.body.dueAt)).toBeLessThanOrEqual(Date.now() + 1000);
		expect((await te.api('POST', `/v1/tasks/${t.body.id}/retry`)).status).toBe(409);
		expect((await te.api('POST', '/v1/tasks/00000000-0000-4000-8000-000000000000/cancel')).status).toBe(404);
	});
});
