import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

describe('batches: pages, cancel, spacing, listing and bad input', () => {
	let te: TestEngine;
	beforeAll(async () => {
		te = await startTestEngine({ BODY_LIMIT_BYTES: String(512 * 1024), PAYLOAD_LIMIT_BYTES: String(64 * 1024) });
		expect((await te.api('POST', '/v1/queues', { name: 'rows' })).status).toBe(201);
	});
	afterAll(async () => te?.stop());

	const getBatch = async (id: string) => (await te.api('GET', `/v1/batches/${id}`)).body;

	it('takes items in pages (topping up a partial chunk), starts, and delivers them in order', async () => {
		const receiver = await startReceiver();
		try {
			const open = await te.api('POST', '/v1/batches', { queue: 'rows', name: 'paged', url: receiver.url, chunkSize: 3, open: true, items: [0, 1, 2, 3] });
			expect(open.status).toBe(202);
			expect(open.body).toMatchObject({ state: 'open', totalItems: 4, totalChunks: 2 });
			const id = open.body.id as string;

			const page = await te.api('POST', `/v1/batches/${id}/items`, { items: [4, 5, 6, 7, 8] });
			expect(page.status).toBe(200);
			expect(page.body).toEqual({ id, state: 'open', totalItems: 9, totalChunks: 3 });
			expect(await getBatch(id)).toMatchObject({ state: 'open', chunks: { pending: 3, active: 0 }, startedAt: null, etaSeconds: null });
			expect(receiver.requests).toHaveLength(0);

			const started = await te.api('POST', `/v1/batches/${id}/start`);
			expect(started.status).toBe(200);
			expect(started.body.state).toBe('running');
			expect(started.body.startedAt).not.toBeNull();

			const late = await te.api('POST', `/v1/batches/${id}/items`, { items: [9] });
			expect(late.status).toBe(409);
			expect(late.body.error.code).toBe('batch_not_open');
			expect((await te.api('POST', `/v1/batches/${id}/start`)).status).toBe(409);

			await eventually(async () => (await getBatch(id)).state === 'completed', 15_000, 'paged batch done');
			const delivered = receiver.requests.map((r) => [r.json.batch.chunkIndex, r.json.payload.items]).sort((a, b) => a[0] - b[0]);
			expect(delivered).toEqual([
				[0, [0, 1, 2]],
				[1, [3, 4, 5]],
				[2, [6, 7, 8]],
			]);
			expect(await getBatch(id)).toMatchObject({ totalItems: 9, items: { processed: 9, failed: 0 }, chunks: { completed: 3 } });
		} finally {
			await receiver.close();
		}
	});

	it('refuses to start an empty open batch', async () => {
		const open = await te.api('POST', '/v1/batches', { queue: 'rows', name: 'empty', chunkSize: 5, open: true });
		expect(open.body).toMatchObject({ state: 'open', totalItems: 0, totalChunks: 0 });
		const start = await te.api('POST', `/v1/batches/${open.body.id}/start`);
		expect(start.status).toBe(409);
		expect(start.body.error.code).toBe('batch_empty');
	});

	it('cancels: pending and not-yet-started chunks stop, the chunk being delivered finishes, no callback', async () => {
		let release!: () => void;
		const held = new Promise<void>((resolve) => (release = resolve));
		const receiver = await startReceiver(async () => (await held, {}));
		const callback = await startReceiver();
		try {
			// concurrency 2 with a long spacing: chunk 0 is delivered now, chunk 1 is released but due later.
			const created = await te.api('POST', '/v1/batches', {
				queue: 'rows', name: 'to-cancel', url: receiver.url, callbackUrl: callback.url, chunkSize: 2, concurrency: 2, delayBetweenChunksSeconds: 300,
				items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
			});
			expect(created.status).toBe(202);
			const id = created.body.id as string;
			await eventually(() => receiver.requests.length === 1, 10_000, 'chunk 0 in delivery');
			expect(await getBatch(id)).toMatchObject({ chunks: { active: 2, pending: 3 } });

			const cancelled = await te.api('POST', `/v1/batches/${id}/cancel`);
			expect(cancelled.status).toBe(200);
			expect(cancelled.body).toMatchObject({ state: 'cancelled', chunks: { active: 1, pending: 0, cancelled: 4, completed: 0 } });
			expect(cancelled.body.finishedAt).not.toBeNull();
			expect((await te.api('POST', `/v1/batches/${id}/cancel`)).status).toBe(409);
			const chunkTasks = await te.engine.pool.query<{ chunkIndex: number; state: string }>(
				`SELECT (batch->>'chunkIndex')::int AS "chunkIndex", state FROM tasks WHERE batch_id = $1 ORDER BY 1`,
				[id],
			);
			expect(chunkTasks.rows.map((t) => [t.chunkIndex, t.state])).toEqual([
				[0, 'active'],
				[1, 'cancelled'],
			]);

			release();
			const after = await eventually(async () => {
				const b = await getBatch(id);
				return b.chunks.active === 0 ? b : undefined;
			}, 10_000, 'the active chunk to finish');
			expect(after).toMatchObject({ state: 'cancelled', items: { processed: 2, failed: 0 }, chunks: { completed: 1, cancelled: 4, pending: 0 } });
			expect(receiver.requests).toHaveLength(1);
			expect((await te.api('GET', '/v1/tasks?queue=rows&name=batch.finished')).body.items).toHaveLength(0);
			expect(callback.requests).toHaveLength(0);
			expect((await te.api('POST', `/v1/batches/${id}/retry-failed`)).status).toBe(409);
		} finally {
			release();
			await Promise.all([receiver.close(), callback.close()]);
		}
	});

	it('counts a chunk whose task was cancelled through the tasks API as failed, and retry-failed runs it again', async () => {
		const receiver = await startReceiver();
		try {
			await te.api('POST', '/v1/queues', { name: 'paused-rows' });
			await te.api('POST', '/v1/queues/paused-rows/pause');
			const created = await te.api('POST', '/v1/batches', { queue: 'paused-rows', name: 'orphan', url: receiver.url, chunkSize: 2, items: [1, 2, 3, 4, 5, 6] });
			const id = created.body.id as string;
			const { rows } = await te.engine.pool.query<{ id: string }>('SELECT id FROM tasks WHERE batch_id = $1', [id]);
			expect(rows).toHaveLength(1); // concurrency 1: one chunk released
			expect((await te.api('POST', `/v1/tasks/${rows[0].id}/cancel`)).status).toBe(200);

			// (the engine's own reconciler loop may get there first: either way the chunk is counted once)
			await te.engine.batches.reconcileOnce();
			expect(await te.engine.batches.reconcileOnce()).toEqual({ failed: 0 });
			expect(await getBatch(id)).toMatchObject({ state: 'running', chunks: { failed: 1, active: 1, pending: 1 }, items: { failed: 2 } });

			await te.api('POST', '/v1/queues/paused-rows/resume');
			await eventually(async () => (await getBatch(id)).state === 'completed_with_failures', 15_000, 'finished with the lost chunk failed');
			expect(receiver.requests.map((r) => r.json.batch.chunkIndex).sort()).toEqual([1, 2]);

			const retried = await te.api('POST', `/v1/batches/${id}/retry-failed`);
			expect(retried.status).toBe(200);
			await eventually(async () => (await getBatch(id)).state === 'completed', 15_000, 'the cancelled chunk re-run');
			expect(receiver.requests.at(-1)?.headers['webhook-id']).toBe(rows[0].id);
			expect(await getBatch(id)).toMatchObject({ items: { processed: 6, failed: 0 }, chunks: { completed: 3, failed: 0 }, runs: 2 });
		} finally {
			await receiver.close();
		}
	});

	it('runs a finished batch again when a failed chunk is retried through the tasks API, and calls back again', async () => {
		let healed = false;
		const receiver = await startReceiver((r) => (r.json.batch.chunkIndex === 1 && !healed ? { status: 422 } : {}));
		const callback = await startReceiver();
		try {
			const created = await te.api('POST', '/v1/batches', { queue: 'rows', name: 'redrive', url: receiver.url, callbackUrl: callback.url, chunkSize: 1, concurrency: 3, items: ['a', 'b', 'c'] });
			const id = created.body.id as string;
			await eventually(() => callback.requests.length === 1, 15_000, 'first callback');
			expect(callback.requests[0].json.payload.batch).toMatchObject({ state: 'completed_with_failures', chunks: { completed: 2, failed: 1 } });
			const failedTask = receiver.requests.find((r) => r.json.batch.chunkIndex === 1)?.headers['webhook-id'];

			healed = true;
			expect((await te.api('POST', `/v1/tasks/${failedTask}/retry`)).status).toBe(200);
			await eventually(() => callback.requests.length === 2, 15_000, 'second callback');
			expect(callback.requests[1].json.payload.batch).toMatchObject({ state: 'completed', chunks: { completed: 3, failed: 0 }, items: { processed: 3, failed: 0 }, runs: 2 });
			expect(await getBatch(id)).toMatchObject({ state: 'completed', runs: 2 });
		} finally {
			await Promise.all([receiver.close(), callback.close()]);
		}
	});

	it('spaces chunk starts by delayBetweenChunksSeconds', async () => {
		const receiver = await startReceiver();
		try {
			const created = await te.api('POST', '/v1/batches', { queue: 'rows', name: 'spaced', url: receiver.url, chunkSize: 1, concurrency: 3, delayBetweenChunksSeconds: 1, items: ['a', 'b', 'c'] });
			await eventually(async () => (await getBatch(created.body.id)).state === 'completed', 15_000, 'spaced batch done');
			// Spacing is of due times (what the engine controls); no chunk starts before its due time.
			const byChunk = [...receiver.requests].sort((a, b) => a.json.batch.chunkIndex - b.json.batch.chunkIndex);
			expect(byChunk).toHaveLength(3);
			const due = byChunk.map((r) => Date.parse(r.json.scheduledFor));
			expect(due[1] - due[0]).toBeGreaterThanOrEqual(1000);
			expect(due[1] - due[0]).toBeLessThan(1500);
			expect(due[2] - due[1]).toBeGreaterThanOrEqual(1000);
			expect(due[2] - due[1]).toBeLessThan(1500);
			byChunk.forEach((r, i) => expect(r.at).toBeGreaterThanOrEqual(due[i] - 50));
		} finally {
			await receiver.close();
		}
	});

	it('lists batches newest first with cursor paging and filters', async () => {
		await te.api('POST', '/v1/queues', { name: 'listed' });
		const a = await te.api('POST', '/v1/batches', { queue: 'listed', name: 'a', chunkSize: 1, open: true });
		const b = await te.api('POST', '/v1/batches', { queue: 'listed', name: 'b', chunkSize: 1, open: true });
		const page1 = await te.api('GET', '/v1/batches?queue=listed&limit=1');
		expect(page1.status).toBe(200);
		expect(page1.body.items.map((x: { id: string }) => x.id)).toEqual([b.body.id]);
		const page2 = await te.api('GET', `/v1/batches?queue=listed&limit=1&cursor=${page1.body.nextCursor}`);
		expect(page2.body.items.map((x: { id: string }) => x.id)).toEqual([a.body.id]);
		expect(page2.body.nextCursor).toBeNull();
		expect((await te.api('GET', '/v1/batches?queue=listed&state=running')).body.items).toHaveLength(0);
		expect((await te.api('GET', '/v1/batches?cursor=nonsense')).status).toBe(400);
		expect((await te.api('GET', '/v1/batches/00000000-0000-4000-8000-000000000000')).status).toBe(404);
		const paths = Object.keys((await te.api('GET', '/openapi.json')).body.paths);
		for (const path of ['/v1/batches', '/v1/batches/{id}', '/v1/batches/{id}/items', '/v1/batches/{id}/start', '/v1/batches/{id}/cancel', '/v1/batches/{id}/retry-failed']) {
			expect(paths).toContain(path);
		}
	});

	it.each([
		['empty items', { items: [] }, 400, 'items'],
		['missing items', { items: undefined }, 400, 'items'],
		['items not an array', { items: { a: 1 } }, 400, 'items'],
		['chunkSize 0', { chunkSize: 0 }, 400, 'chunkSize'],
		['chunkSize over 10,000', { chunkSize: 10_001 }, 400, 'chunkSize'],
		['concurrency 0', { concurrency: 0 }, 400, 'concurrency'],
		['negative delay', { delayBetweenChunksSeconds: -1 }, 400, 'delayBetweenChunksSeconds'],
		['unknown field', { colour: 'red' }, 400, 'colour'],
		['unknown queue', { queue: 'nope' }, 404, 'queue'],
		['bad url', { url: 'ftp://x' }, 400, 'url'],
		['bad callbackUrl', { callbackUrl: 'not a url' }, 400, 'callbackUrl'],
		['reserved payload.items', { payload: { items: [1] } }, 400, 'payload.items'],
		['chunk payload over the limit', { items: Array.from({ length: 2000 }, () => 'x'.repeat(40)), chunkSize: 2000 }, 413, 'chunkSize'],
	])('rejects %s and writes nothing', async (_what, change, status, field) => {
		const body = { queue: 'rows', name: 'bad', items: [1, 2, 3], chunkSize: 2, ...change };
		const res = await te.api('POST', '/v1/batches', JSON.parse(JSON.stringify(body)));
		expect(res.status).toBe(status);
		expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
		expect(res.body.error.message.toLowerCase()).toContain(field.toLowerCase());
		expect((await te.api('GET', '/v1/batches?queue=rows&limit=500')).body.items.filter((b: { name: string }) => b.name === 'bad')).toHaveLength(0);
	});

	it('answers 413 with the limit for a body over BODY_LIMIT_BYTES', async () => {
		const items = Array.from({ length: 6000 }, (_, i) => ({ row: i, text: 'y'.repeat(80) }));
		const res = await te.api('POST', '/v1/batches', { queue: 'rows', name: 'huge', items, chunkSize: 10 });
		expect(res.status).toBe(413);
		expect(res.body.error.message).toContain(String(512 * 1024));
	});

	it('rejects items for an unknown batch and bad pages', async () => {
		expect((await te.api('POST', '/v1/batches/00000000-0000-4000-8000-000000000000/items', { items: [1] })).status).toBe(404);
		const open = await te.api('POST', '/v1/batches', { queue: 'rows', name: 'pages', chunkSize: 2, open: true });
		const empty = await te.api('POST', `/v1/batches/${open.body.id}/items`, { items: [] });
		expect(empty.status).toBe(400);
		expect(empty.body.error.details[0].field).toBe('items');
		expect((await te.api('POST', `/v1/batches/${open.body.id}/items`, { items: [1], extra: true })).status).toBe(400);
		expect((await getBatch(open.body.id)).totalItems).toBe(0);
	});
});

describe('batches: two engines settle chunks of one batch', () => {
	it('keeps the counters exact with deliveries settled by both engines', async () => {
		const first = await startTestEngine({}, { keepSchema: true });
		const second = await startTestEngine({}, { schema: first.schema });
		// 50 ms a chunk: the batch lasts long enough (200 chunks, 16 at a time) for both engines to take part.
		const receiver = await startReceiver((r) => (r.json.batch.chunkIndex % 10 === 3 ? { status: 400 } : { delayMs: 50 }));
		const delivered = { first: 0, second: 0 };
		first.engine.dispatcher.observe(() => (delivered.first += 1));
		second.engine.dispatcher.observe(() => (delivered.second += 1));
		try {
			await first.api('POST', '/v1/queues', { name: 'shared' });
			const created = await first.api('POST', '/v1/batches', {
				queue: 'shared', name: 'both', url: receiver.url, chunkSize: 10, concurrency: 16, items: Array.from({ length: 2000 }, (_, i) => i),
			});
			expect(created.status).toBe(202);
			const done = await eventually(async () => {
				const b = (await second.api('GET', `/v1/batches/${created.body.id}`)).body;
				return b.finishedAt ? b : undefined;
			}, 60_000, 'shared batch done');
			expect(done).toMatchObject({
				state: 'completed_with_failures',
				items: { processed: 1800, failed: 200 },
				chunks: { completed: 180, failed: 20, active: 0, pending: 0 },
			});
			expect(receiver.requests).toHaveLength(200);
			expect(new Set(receiver.requests.map((r) => r.json.batch.chunkIndex)).size).toBe(200);
			// Both engines delivered (and so settled) chunks of the batch.
			expect(delivered.first).toBeGreaterThan(0);
			expect(delivered.second).toBeGreaterThan(0);
			await eventually(() => delivered.first + delivered.second === 200, 5000, 'observers of all 200 deliveries');
		} finally {
			await receiver.close();
			await first.stop();
			await second.stop();
		}
	});
});
