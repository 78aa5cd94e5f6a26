import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * What engines sharing a database know of each other: a rotated secret reaches every engine at once,
 * and an engine never takes its own live deliveries for lost (its heartbeat row can be old after it
 * lost the database for a while, yet it is plainly alive).
 */
describe('engines sharing a database', () => {
	const schema = freshSchema();
	let api: TestEngine;
	let worker: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	let db: pg.Client;

	beforeAll(async () => {
		receiver = await startReceiver((req) => ({ delayMs: req.json?.name === 'slow' ? 3_000 : 0 }));
		// One engine takes requests only; the other delivers, and learns of changes from the database.
		api = await startTestEngine({}, { schema, keepSchema: true, background: false });
		worker = await startTestEngine({ ENGINE_DEAD_AFTER_SECONDS: '5' }, { schema, keepSchema: true });
		db = new pg.Client({ connectionString: testDatabaseUrl() });
		await db.connect();
		await db.query(`SET search_path TO "${schema}"`);
	});

	afterAll(async () => {
		await db?.end();
		await worker?.stop();
		await api?.stop();
		await receiver?.close();
		await dropSchema(schema);
	});

	it('signs with the old and the new secret on every engine as soon as a queue secret is rotated', async () => {
		await api.api('POST', '/v1/queues', { name: 'rotating' });
		const rotated = await api.api('POST', '/v1/queues/rotating/rotate-secret');
		expect(rotated.status).toBe(200);
		// Well inside the 30 s catalog refresh: only the rotation's announcement can explain two signatures.
		const sent = await api.api('POST', '/v1/tasks', { queue: 'rotating', name: 'signed', url: receiver.url });
		const delivery = await eventually(() => receiver.requests.find((r) => r.headers['webhook-id'] === sent.body.id), 5_000, 'the delivery');
		const signatures = String(delivery.headers['webhook-signature']).split(' ');
		expect(signatures).toHaveLength(2);
		expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
	});

	it('does not take its own live delivery for lost when its heartbeat row is old', async () => {
		await api.api('POST', '/v1/queues', { name: 'alive' });
		const sent = await api.api('POST', '/v1/tasks', { queue: 'alive', name: 'slow', url: receiver.url });
		await eventually(() => receiver.requests.some((r) => r.headers['webhook-id'] === sent.body.id), 5_000, 'the delivery in flight');
		// As after the database was away for longer than ENGINE_DEAD_AFTER_SECONDS.
		await db.query(`UPDATE engines SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [worker.engine.engineId]);
		expect(await worker.engine.rescuer.runOnce()).toMatchObject({ rescued: 0, retrying: 0, failed: 0 });

		const task = await eventually(async () => {
			const t = (await api.api('GET', `/v1/tasks/${sent.body.id}`)).body;
			return t.state === 'completed' ? t : undefined;
		}, 10_000, 'the task completed');
		expect(task.attempts).toHaveLength(1);
		expect(receiver.requests.filter((r) => r.headers['webhook-id'] === sent.body.id)).toHaveLength(1);
	});
});
