import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTasks } from '../../engine/src/tasks/taskSql.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * `GET /v1/tasks?queue=&idempotencyKey=`: the task holding a key, found through the unique index on
 * (queue, idempotency_key) even in a long queue; a key without its queue is a 400 naming `queue`.
 */
describe('finding a task by its idempotency key', () => {
	let te: TestEngine;
	const ids: Record<string, string> = {};

	beforeAll(async () => {
		// No dispatcher: the tasks stay as enqueued.
		te = await startTestEngine({}, { background: false });
		for (const name of ['orders', 'refunds']) expect((await te.api('POST', '/v1/queues', { name })).status).toBe(201);
		for (const [queue, key] of [['orders', 'order-1'], ['orders', 'order-2'], ['refunds', 'order-1']]) {
			const res = await te.api('POST', '/v1/tasks', { queue, name: 'charge', payload: { key }, idempotencyKey: key, delaySeconds: 3600 });
			expect(res.status).toBe(201);
			ids[`${queue}/${key}`] = res.body.id;
		}
		expect((await te.api('POST', '/v1/tasks', { queue: 'orders', name: 'charge', payload: { key: null } })).status).toBe(201);
	});
	afterAll(async () => te?.stop());

	const lookup = (query: string) => te.api('GET', `/v1/tasks?${query}`);

	it('finds the one task holding the key in that queue', async () => {
		const res = await lookup('queue=orders&idempotencyKey=order-1');
		expect(res.status).toBe(200);
		expect(res.body.nextCursor).toBeNull();
		expect(res.body.items.map((t: { id: string }) => t.id)).toEqual([ids['orders/order-1']]);
		expect(res.body.items[0]).toMatchObject({ queue: 'orders', idempotencyKey: 'order-1', payload: { key: 'order-1' }, state: 'scheduled' });
		// The same key in another queue is another task.
		expect((await lookup('queue=refunds&idempotencyKey=order-1')).body.items.map((t: { id: string }) => t.id)).toEqual([ids['refunds/order-1']]);
	});

	it('answers an empty list for a key nobody holds, and combines with the other filters', async () => {
		expect((await lookup('queue=orders&idempotencyKey=order-9')).body).toEqual({ items: [], nextCursor: null });
		expect((await lookup('queue=orders&idempotencyKey=order-2&state=scheduled')).body.items).toHaveLength(1);
		expect((await lookup('queue=orders&idempotencyKey=order-2&state=completed')).body.items).toEqual([]);
		expect((await lookup('queue=orders&idempotencyKey=order-2&name=refund')).body.items).toEqual([]);
		// Without the key, the queue lists all four of its own.
		expect((await lookup('queue=orders')).body.items).toHaveLength(3);
	});

	it('answers 400 naming queue for a key without its queue, and naming idempotencyKey for a bad key', async () => {
		const noQueue = await lookup('idempotencyKey=order-1');
		expect(noQueue.status).toBe(400);
		expect(noQueue.body.error).toMatchObject({ code: 'invalid_request', details: [{ field: 'querystring.queue' }] });
		expect(noQueue.body.error.message).toContain('querystring.queue');
		expect(noQueue.body.error.message).toContain('idempotencyKey');

		for (const bad of ['', 'x'.repeat(256), '%00', 'a&idempotencyKey=b']) {
			const res = await lookup(`queue=orders&idempotencyKey=${bad}`);
			expect(res.status, bad).toBe(400);
			expect(res.body.error.details[0].field, bad).toBe('querystring.idempotencyKey');
		}
	});

	it('is in the OpenAPI document', async () => {
		const doc = (await te.api('GET', '/openapi.json', undefined, { auth: false })).body;
		const names = doc.paths['/v1/tasks'].get.parameters.map((p: { name: string }) => p.name);
		expect(names).toContain('idempotencyKey');
	});

	it('reads the unique (queue, idempotency_key) index, not the queue, in a queue of 3,000 tasks', async () => {
		const tasks = (offset: number) =>
			Array.from({ length: 1000 }, (_, i) => ({ queue: 'orders', name: 'bulk', payload: {}, idempotencyKey: `bulk-${offset + i}`, delaySeconds: 3600 }));
		for (const offset of [0, 1000, 2000]) expect((await te.api('POST', '/v1/tasks/bulk', { tasks: tasks(offset) })).status).toBe(201);
		await te.engine.pool.query('ANALYZE tasks');

		// The list's own statement, explained: a client that prefixes EXPLAIN to what listTasks sends.
		const explaining = {
			query: (text: string, values: unknown[]) => te.engine.pool.query(`EXPLAIN (FORMAT JSON) ${text}`, values),
		} as unknown as Parameters<typeof listTasks>[0];
		const plans = (await listTasks(explaining, { queue: 'orders', idempotencyKey: 'bulk-1234', limit: 51 })) as unknown as { 'QUERY PLAN': unknown }[];
		const plan = JSON.stringify(plans[0]!['QUERY PLAN']);
		expect(plan).toContain('"Index Name":"tasks_idempotency"');
		expect(plan).not.toContain('Seq Scan');

		const found = await lookup('queue=orders&idempotencyKey=bulk-1234');
		expect(found.body.items.map((t: { idempotencyKey: string }) => t.idempotencyKey)).toEqual(['bulk-1234']);
	});
});
