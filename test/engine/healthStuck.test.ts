import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, eventually, freshSchema, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * Stuck tasks: engine B claims tasks and then loses its database (its pool is ended, as when the
 * process dies), so its deliveries are never settled. Engine A — no background loops, so nothing
 * rescues behind the test's back — reports them as stuck once timeout + grace has passed, then its
 * rescuer recovers them and health shows what was recovered.
 */
describe('queue health: stuck and recovered tasks', () => {
	const schema = freshSchema();
	const env = { LEASE_GRACE_SECONDS: '1' };
	let a: TestEngine;
	let b: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;

	beforeAll(async () => {
		// The handler never answers in time: B's deliveries are in flight when B dies.
		receiver = await startReceiver(() => ({ delayMs: 20_000 }));
		a = await startTestEngine(env, { schema, keepSchema: true, background: false });
		b = await startTestEngine(env, { schema, keepSchema: true });
	});

	afterAll(async () => {
		await b?.stop().catch(() => undefined);
		await a?.stop();
		await receiver?.close();
		await dropSchema(schema);
	});

	it('shows tasks active past timeout + grace as stuck, then what the rescuer recovered', async () => {
		await a.api('POST', '/v1/queues', { name: 'stall' });
		await a.api('POST', '/v1/queues/stall/handlers', { url: receiver.url });
		const ids: string[] = [];
		for (let i = 0; i < 3; i++) {
			const r = await a.api('POST', '/v1/tasks', { queue: 'stall', name: 'hang', timeoutSeconds: 2, retry: { limit: 2, delaySeconds: 3600, maxDelaySeconds: 7200 } });
			ids.push(r.body.id);
		}
		// B delivers all three, then "dies": its connections are gone before any result is written.
		await eventually(() => receiver.requests.length === 3, 15_000, 'three deliveries in flight');
		await b.engine.pool.end();

		const health = async (query = '') => (await a.api('GET', `/v1/queues/stall/health${query}`)).body;
		const before = await health();
		expect(before.counts.active).toBe(3);
		expect(before.stuck.count).toBe(0);

		// timeout 2 s + grace 1 s after each start.
		const stuck = await eventually(async () => {
			const h = await health();
			return h.stuck.count === 3 ? h : undefined;
		}, 10_000, 'stuck tasks');
		expect([...stuck.stuck.taskIds].sort()).toEqual([...ids].sort());
		expect(stuck.counts.active).toBe(3);
		expect(stuck.status).toBe('ok'); // default maxStuck is 5
		expect((await health('?maxStuck=2')).status).toBe('warning');
		const critical = await health('?maxStuck=1');
		expect(critical.status).toBe('critical');
		expect(critical.reasons.map((r: { code: string }) => r.code)).toEqual(['stuck']);

		const rescued = await a.engine.rescuer.runOnce();
		expect(rescued).toMatchObject({ rescued: 3, retrying: 3, failed: 0 });

		const after = await health();
		expect(after.stuck).toEqual({ count: 0, taskIds: [] });
		expect(after.recovered).toBe(3);
		expect(after.counts).toMatchObject({ active: 0, retrying: 3 });
		// A lost delivery is a failed attempt; it never reached a handler's answer.
		expect(after.failuresLastHour).toBe(3);
		expect(after.handlers.successRate).toBeNull();
		const task = (await a.api('GET', `/v1/tasks/${ids[0]}`)).body;
		expect(task.attempts).toHaveLength(1);
		expect(task.attempts[0].errorClass).toBe('lost');
		const metrics = (await a.api('GET', '/metrics')).body as string;
		expect(metrics).toMatch(/^task_engine_rescued_total 3$/m);
		expect(metrics).toMatch(/^task_engine_queue_tasks\{queue="stall",state="retrying"\} 3$/m);
	});
});
