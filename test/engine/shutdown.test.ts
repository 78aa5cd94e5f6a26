import { afterEach, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

describe('shutdown and queue creation on first use', () => {
	const cleanups: (() => Promise<unknown>)[] = [];
	afterEach(async () => {
		for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
	});

	it('finishes quick deliveries and gives slow ones back, uncharged, for another engine', async () => {
		const schema = freshSchema();
		let slow = true;
		const receiver = await startReceiver((req) => ({ delayMs: slow && req.json.name === 'slow' ? 5000 : 50 }));
		cleanups.push(() => receiver.close(), () => dropSchema(schema));
		const first = await startTestEngine({ SHUTDOWN_GRACE_SECONDS: '1' }, { schema, keepSchema: true });
		await first.api('POST', '/v1/queues', { name: 'jobs' });
		await first.api('POST', '/v1/queues/jobs/handlers', { url: receiver.url });
		const quick = (await first.api('POST', '/v1/tasks', { queue: 'jobs', name: 'quick' })).body;
		const long = (await first.api('POST', '/v1/tasks', { queue: 'jobs', name: 'slow', timeoutSeconds: 30, retry: { limit: 0 } })).body;
		await eventually(() => receiver.requests.length === 2, 5000, 'both deliveries started');

		const stopping = Date.now();
		await first.stop();
		expect(Date.now() - stopping).toBeLessThan(4000);

		const second = await startTestEngine({}, { schema, keepSchema: true, background: false });
		cleanups.push(() => second.stop());
		const q = (await second.api('GET', `/v1/tasks/${quick.id}`)).body;
		expect(q.state).toBe('completed');
		const released = (await second.api('GET', `/v1/tasks/${long.id}`)).body;
		expect(released.state).toBe('retrying'); // due again at once
		expect(released.attemptCount).toBe(1);
		expect(released.maxAttempts).toBe(2); // limit 0 + 1, plus the given-back attempt
		expect(released.attempts[0]).toMatchObject({ outcome: 'retry', errorClass: 'aborted' });
		await second.stop();

		slow = false;
		const third = await startTestEngine({}, { schema, keepSchema: true });
		cleanups.push(() => third.stop());
		const done = await eventually(async () => {
			const t = (await third.api('GET', `/v1/tasks/${long.id}`)).body;
			return t.state === 'completed' ? t : undefined;
		});
		expect(done.attemptCount).toBe(2);
	});

	it('creates a queue on first enqueue only when AUTO_CREATE_QUEUES is on', async () => {
		const strict = await startTestEngine({}, { background: false });
		cleanups.push(() => strict.stop());
		const refused = await strict.api('POST', '/v1/tasks', { queue: 'fresh', name: 'x' });
		expect(refused.status).toBe(404);
		expect(refused.body.error.details[0].field).toBe('queue');

		const lenient = await startTestEngine({ AUTO_CREATE_QUEUES: 'true' }, { background: false });
		cleanups.push(() => lenient.stop());
		expect((await lenient.api('POST', '/v1/tasks', { queue: 'fresh', name: 'x' })).status).toBe(201);
		expect((await lenient.api('GET', '/v1/queues/fresh')).body).toMatchObject({ name: 'fresh', concurrency: 10 });
	});
});
