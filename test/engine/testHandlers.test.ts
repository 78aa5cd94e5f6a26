import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, testDatabaseUrl, type TestEngine } from '../helpers/engine.js';
import { startReceiver, type Reply } from '../helpers/receiver.js';

/**
 * Test-mode handlers: what n8n's editor registers while it listens for a test event.
 * One gets at most one task, only while its queue has no healthy production handler, and is deleted
 * after that delivery or 120 s after its registration, whichever comes first — by the database
 * clock, which the tests move instead of waiting two minutes.
 */
describe('test-mode handlers', () => {
	let te: TestEngine;
	const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
	let n = 0;

	beforeAll(async () => {
		te = await startTestEngine({ POLL_INTERVAL_MS: '200' });
	});
	afterEach(async () => {
		await Promise.all(receivers.splice(0).map((r) => r.close()));
	});
	afterAll(async () => te?.stop());

	async function receiver(respond?: (index: number) => Reply) {
		const r = await startReceiver((_req, i) => respond?.(i) ?? {});
		receivers.push(r);
		return r;
	}

	async function queue() {
		const name = `tq${++n}`;
		expect((await te.api('POST', '/v1/queues', { name })).status).toBe(201);
		return name;
	}

	async function register(name: string, url: string, mode: 'production' | 'test') {
		const res = await te.api('POST', `/v1/queues/${name}/handlers`, { url, mode });
		expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
		return res.body as { id: string; url: string; mode: string };
	}

	async function enqueue(name: string, count = 1) {
		const res = await te.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: count }, (_, i) => ({ queue: name, name: `t${i}` })) });
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return (res.body.items as { id: string }[]).map((t) => t.id);
	}

	const task = async (id: string) => (await te.api('GET', `/v1/tasks/${id}`)).body;
	const handlers = async (name: string) => (await te.api('GET', `/v1/queues/${name}/handlers`)).body.items as { id: string; mode: string }[];
	const rows = async (id: string) => (await te.engine.pool.query('SELECT 1 FROM handlers WHERE id = $1', [id])).rowCount;
	const settle = () => new Promise((r) => setTimeout(r, 1000));

	it('gets one task, then is deleted; the other tasks wait, untouched', async () => {
		const name = await queue();
		const editor = await receiver();
		const handler = await register(name, editor.url, 'test');
		const ids = await enqueue(name, 3);

		await eventually(() => editor.requests.length === 1, 10_000, 'the test delivery');
		await eventually(async () => (await handlers(name)).length === 0, 5_000, 'the test handler to go');
		expect((await te.api('GET', `/v1/queues/${name}/handlers/${handler.id}`)).status).toBe(404);
		expect(await rows(handler.id)).toBe(0);

		await settle();
		expect(editor.requests).toHaveLength(1);
		const states = await Promise.all(ids.map(task));
		const delivered = states.find((t) => t.id === editor.requests[0]!.json.id)!;
		expect(delivered).toMatchObject({ state: 'completed', attemptCount: 1 });
		// Claimed one at a time while the test handler was their only way out: none was claimed only
		// to be given back, so the others have no attempt at all.
		for (const other of states.filter((t) => t !== delivered)) expect(other).toMatchObject({ state: 'queued', attemptCount: 0, attempts: [] });

		// A production handler then takes the rest.
		const live = await receiver();
		await register(name, live.url, 'production');
		await eventually(() => live.requests.length === 2, 10_000, 'the rest delivered');
	});

	it('gets one task while the engine reads its queue again and again (another engine announcing changes)', async () => {
		const name = await queue();
		const editor = await receiver();
		// Every notification makes the engine read the queue and its handlers again; one of those reads
		// lands between the moment the handler is taken for a task and the moment that claim commits.
		const announcer = new pg.Client({ connectionString: testDatabaseUrl() });
		await announcer.connect();
		let announcing = true;
		let announced = 0;
		const announcing$ = (async () => {
			while (announcing) {
				await announcer.query('SELECT pg_notify($1, $2)', [`${te.schema}.queues`, name]);
				announced += 1;
			}
		})();
		try {
			await register(name, editor.url, 'test');
			const ids = await enqueue(name, 5);
			await eventually(() => editor.requests.length === 1, 10_000, 'the test delivery');
			await eventually(async () => (await handlers(name)).length === 0, 5_000, 'the test handler to go');
			await settle();
			announcing = false;
			await announcing$;
			expect(announced).toBeGreaterThan(100);
			const states = await Promise.all(ids.map(task));
			expect(states.filter((t) => t.state === 'completed')).toHaveLength(1);
			for (const other of states.filter((t) => t.state !== 'completed')) expect(other).toMatchObject({ state: 'queued', attemptCount: 0, attempts: [] });
		} finally {
			announcing = false;
			await announcing$.catch(() => undefined);
			await announcer.end();
		}
	});

	it('is deleted after a failed delivery too (the editor had stopped listening), and the task retries later', async () => {
		const name = await queue();
		const editor = await receiver(() => ({ status: 404 }));
		const handler = await register(name, editor.url, 'test');
		const [id] = await enqueue(name);
		await eventually(async () => (await task(id!)).state === 'retrying', 10_000, 'the failed attempt');
		await eventually(async () => (await rows(handler.id)) === 0, 5_000, 'the test handler to go');
		expect(editor.requests).toHaveLength(1);
	});

	it('keeps its one task when the delivery is given back because the trigger was still starting', async () => {
		const name = await queue();
		const starting: Reply = { status: 503, headers: { 'retry-after': '1', 'x-task-handler-starting': 'true' } };
		const editor = await receiver((i) => (i === 0 ? starting : {}));
		const handler = await register(name, editor.url, 'test');
		const [id] = await enqueue(name);
		const done = await eventually(async () => {
			const t = await task(id!);
			return t.state === 'completed' ? t : undefined;
		}, 10_000, 'completion at the second delivery');
		expect(done.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 200]);
		expect(editor.requests).toHaveLength(2);
		await eventually(async () => (await rows(handler.id)) === 0, 5_000, 'the test handler to go');
	});

	it('never gets a task while the queue has a healthy production handler', async () => {
		const name = await queue();
		const editor = await receiver();
		const live = await receiver();
		await register(name, live.url, 'production');
		const test = await register(name, editor.url, 'test');
		await enqueue(name, 5);
		await eventually(() => live.requests.length === 5, 10_000, 'all five delivered to production');
		await settle();
		expect(editor.requests).toHaveLength(0);
		expect((await handlers(name)).map((h) => h.id)).toContain(test.id);
	});

	it('is refused by the database even when an engine still believes the production handler unhealthy', async () => {
		const name = await queue();
		const editor = await receiver();
		const live = await receiver();
		const production = await register(name, live.url, 'production');
		await register(name, editor.url, 'test');
		await te.api('POST', `/v1/queues/${name}/pause`);
		await te.engine.pool.query('UPDATE handlers SET healthy = false WHERE id = $1', [production.id]);
		// Resuming reloads the catalog (production unhealthy there); then it recovers, unannounced.
		await te.api('POST', `/v1/queues/${name}/resume`);
		await te.engine.pool.query('UPDATE handlers SET healthy = true WHERE id = $1', [production.id]);
		await enqueue(name);
		// (30 s: the whole suite loads the machine; alone this takes well under a second.)
		await eventually(() => live.requests.length === 1, 30_000, 'delivery to production');
		expect(editor.requests).toHaveLength(0);
	});

	it('gets its one task while every production handler is unhealthy', async () => {
		const name = await queue();
		const editor = await receiver();
		const down = await receiver(() => ({ status: 404 }));
		const production = await register(name, down.url, 'production');
		await te.api('POST', `/v1/queues/${name}/pause`);
		await te.engine.pool.query('UPDATE handlers SET healthy = false WHERE id = $1', [production.id]);
		const test = await register(name, editor.url, 'test');
		const ids = await enqueue(name, 2);
		await te.api('POST', `/v1/queues/${name}/resume`);
		await eventually(() => editor.requests.length === 1, 10_000, 'the test delivery');
		await eventually(async () => (await rows(test.id)) === 0, 5_000, 'the test handler to go');
		// The other task keeps probing the unhealthy production handler.
		const other = ids.find((id) => id !== editor.requests[0]!.json.id)!;
		await eventually(() => down.requests.some((r) => r.json.id === other), 10_000, 'a probe of production');
		expect(editor.requests).toHaveLength(1);
	});

	describe('120 s after its registration (database clock)', () => {
		const age = (id: string, seconds: number) =>
			te.engine.pool.query('UPDATE handlers SET created_at = now() - make_interval(secs => $2) WHERE id = $1', [id, seconds]);

		it('is no longer listed nor given a task, and the expiry service deletes it', async () => {
			const name = await queue();
			const editor = await receiver();
			const handler = await register(name, editor.url, 'test');

			await age(handler.id, 100);
			expect((await handlers(name)).map((h) => h.id)).toEqual([handler.id]);

			await age(handler.id, 121);
			expect(await handlers(name)).toEqual([]);
			expect((await te.api('GET', `/v1/queues/${name}/handlers/${handler.id}`)).status).toBe(404);
			const [id] = await enqueue(name);
			await settle();
			expect(editor.requests).toHaveLength(0);
			expect((await task(id!)).state).not.toBe('completed');

			// The engine's own expiry loop may have run meanwhile (a loaded machine stretches settle()):
			// either way the expiry service is what deleted it, and a second run finds nothing.
			const { expired } = await te.engine.testHandlerExpiry.runOnce();
			expect(expired).toBeLessThanOrEqual(1);
			expect(await rows(handler.id)).toBe(0);
			expect(await te.engine.testHandlerExpiry.runOnce()).toEqual({ expired: 0 });
		});

		it('leaves production handlers of any age alone', async () => {
			const name = await queue();
			const live = await receiver();
			const handler = await register(name, live.url, 'production');
			await age(handler.id, 3600);
			await te.engine.testHandlerExpiry.runOnce();
			expect((await handlers(name)).map((h) => h.id)).toEqual([handler.id]);
		});

		it('starts over when the same URL registers again (a new test)', async () => {
			const name = await queue();
			const editor = await receiver();
			const first = await register(name, editor.url, 'test');
			await age(first.id, 121);
			const again = await register(name, editor.url, 'test');
			// The same row renewed — or, when the engine's expiry loop ran between the two calls (a
			// loaded machine), a new one with the old one gone. Either way exactly one live handler.
			expect((await handlers(name)).map((h) => h.id)).toEqual([again.id]);
			if (again.id !== first.id) expect(await rows(first.id)).toBe(0);
			await enqueue(name);
			await eventually(() => editor.requests.length === 1, 10_000, 'the test delivery');
		});
	});
});
