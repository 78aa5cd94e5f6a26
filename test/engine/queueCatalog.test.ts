import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../engine/src/db/pool.js';
import { handlersFor, QueueCatalog } from '../../engine/src/queues/queueCatalog.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * The engine's in-memory view of queues and handlers, against the real database: loads that
 * overlap must leave the newest reading in place, and a test handler this engine has taken stays
 * taken in its view until the database says so, whatever older reads come back late.
 */
describe('QueueCatalog', () => {
	let te: TestEngine;
	let n = 0;

	beforeAll(async () => {
		te = await startTestEngine({}, { background: false });
	});
	afterAll(async () => te?.stop());

	async function queue(concurrency = 5) {
		const name = `cq${++n}`;
		expect((await te.api('POST', '/v1/queues', { name, concurrency })).status).toBe(201);
		return name;
	}

	/** The engine's pool; the answers of queries sent while held are kept back until `release`. */
	function gatedPool() {
		let gate: Promise<void> | null = null;
		let answered = 0;
		const waiters = new Set<() => void>();
		const db: Queryable = {
			query: (async (...args: unknown[]) => {
				const held = gate;
				const result = await (te.engine.pool.query as (...a: unknown[]) => Promise<unknown>)(...args);
				if (held) {
					answered += 1;
					for (const w of waiters) w();
					await held;
				}
				return result;
			}) as never,
		};
		return {
			db,
			/** Holds the answers of the queries sent from now until the returned function is called; later ones pass. */
			hold(): () => void {
				let open = () => {};
				gate = new Promise<void>((resolve) => (open = resolve));
				return () => {
					gate = null;
					open();
				};
			},
			pass: () => (gate = null),
			/** Resolves once `count` held queries have had their answer from the database. */
			answered: (count: number) =>
				new Promise<void>((resolve) => {
					const check = () => {
						if (answered < count) return;
						waiters.delete(check);
						resolve();
					};
					waiters.add(check);
					check();
				}),
		};
	}

	it('keeps a newer reading when an older load comes back after it', async () => {
		const name = await queue(5);
		const pool = gatedPool();
		const catalog = new QueueCatalog(pool.db);
		await catalog.loadAll();
		expect(catalog.get(name)?.queue.concurrency).toBe(5);

		const release = pool.hold();
		const old = catalog.loadAll();
		await pool.answered(2); // it read concurrency 5
		pool.pass();
		await te.engine.pool.query('UPDATE queues SET concurrency = 7 WHERE name = $1', [name]);
		expect((await catalog.reload(name))?.queue.concurrency).toBe(7);
		release();
		await old;
		expect(catalog.get(name)?.queue.concurrency).toBe(7);
	});

	it('keeps a test handler it took until it is done with it, whatever older loads read', async () => {
		const name = await queue();
		const res = await te.api('POST', `/v1/queues/${name}/handlers`, { url: 'http://127.0.0.1:9/test', mode: 'test' });
		expect(res.status).toBe(201);
		const catalog = new QueueCatalog(te.engine.pool);
		await catalog.loadAll();
		const handler = handlersFor(catalog.get(name)!, 'task')[0]!;
		expect(handler.mode).toBe('test');

		// Taken here; the database still says free (the claim has not committed).
		catalog.takeTestHandler(handler, '00000000-0000-4000-8000-000000000001');
		await catalog.reload(name);
		expect(handlersFor(catalog.get(name)!, 'task')).toEqual([]);

		// Done with it (the claim failed): loads from now on show the database, where it is free.
		catalog.forgetTestHandler(handler, '00000000-0000-4000-8000-000000000001');
		await catalog.reload(name);
		expect(handlersFor(catalog.get(name)!, 'task').map((h) => h.id)).toEqual([handler.id]);
	});

	it('shows a test handler registered again (a new test) as free, though it took the old registration', async () => {
		const name = await queue();
		const register = () => te.api('POST', `/v1/queues/${name}/handlers`, { url: 'http://127.0.0.1:9/test', mode: 'test' });
		expect((await register()).status).toBe(201);
		const catalog = new QueueCatalog(te.engine.pool);
		await catalog.loadAll();
		const handler = handlersFor(catalog.get(name)!, 'task')[0]!;
		catalog.takeTestHandler(handler, '00000000-0000-4000-8000-000000000003');
		await catalog.reload(name);
		expect(handlersFor(catalog.get(name)!, 'task')).toEqual([]);

		expect((await register()).status).toBeLessThan(300);
		await catalog.reload(name);
		expect(handlersFor(catalog.get(name)!, 'task').map((h) => h.id)).toEqual([handler.id]);
	});

	it('offers a test handler given back at once; a load that read before the claim shows it taken until the next', async () => {
		const name = await queue();
		const res = await te.api('POST', `/v1/queues/${name}/handlers`, { url: 'http://127.0.0.1:9/test', mode: 'test' });
		const pool = gatedPool();
		const catalog = new QueueCatalog(pool.db);
		await catalog.loadAll();
		const handler = handlersFor(catalog.get(name)!, 'task')[0]!;
		const taskId = '00000000-0000-4000-8000-000000000002';
		catalog.takeTestHandler(handler, taskId);
		// A load that reads before the claim commits, and comes back late.
		const release = pool.hold();
		const late = catalog.reload(name);
		await pool.answered(1);
		pool.pass();
		// The delivery ended and was given back: the handler is offered again without waiting for a load.
		catalog.forgetTestHandler(handler, taskId);
		catalog.testHandlerGivenBack(handler, taskId);
		expect(handlersFor(catalog.get(name)!, 'task').map((h) => h.id)).toEqual([res.body.id]);
		release();
		await late;
		// The late load read "free" before the claim: in this engine's view the handler was taken then.
		expect(handlersFor(catalog.get(name)!, 'task')).toEqual([]);
		// The next load (the give-back's announcement) shows the database's state.
		await catalog.reload(name);
		expect(handlersFor(catalog.get(name)!, 'task').map((h) => h.id)).toEqual([res.body.id]);
	});
});
