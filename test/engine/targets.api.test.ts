import type { LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryClient } from '../../engine/src/delivery/httpDelivery.js';
import { TargetPolicy } from '../../engine/src/delivery/targetPolicy.js';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { loopbackOnly } from '../helpers/loopbackOnly.js';
import { startReceiver } from '../helpers/receiver.js';

/**
 * The target policy through the API and the dispatcher: a refused host is a 400 `target_refused`
 * naming the field wherever a URL is given, and a name that resolves to a refused address fails its
 * attempt with `errorClass: "target_refused"`, without a retry and without a packet sent. Names
 * resolve through an injected resolver; a loopback-only guard watches every socket of this file.
 */
describe('target policy: API and delivery', () => {
	let te: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	let guard: ReturnType<typeof loopbackOnly>;
	const table: Record<string, string> = {};

	beforeAll(async () => {
		guard = loopbackOnly();
		receiver = await startReceiver();
		table['worker.test'] = '127.0.0.1';
		table['rebind.test'] = '169.254.169.254';
		table['mapped.test'] = '::ffff:169.254.169.254';
		const resolve = ((hostname: string, options: { all?: boolean }, callback: (e: Error | null, a: unknown, f?: number) => void) => {
			const address = table[hostname];
			if (!address) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
			const family = address.includes(':') ? 6 : 4;
			callback(null, options.all ? [{ address, family }] : address, family);
		}) as unknown as LookupFunction;
		te = await startTestEngine({ POLL_INTERVAL_MS: '200' }, { deliveryClient: createDeliveryClient({ targetPolicy: TargetPolicy.unrestricted, resolve }) });
		expect((await te.api('POST', '/v1/queues', { name: 'tq', retry: { limit: 3, delaySeconds: 1 } })).status).toBe(201);
	});
	afterAll(async () => {
		await te?.stop();
		await receiver?.close();
		guard?.restore();
	});

	function expectRefused(res: { status: number; body: any }, field: string) {
		expect(res.status, JSON.stringify(res.body)).toBe(400);
		expect(res.body.error.code).toBe('target_refused');
		expect(res.body.error.details).toEqual([{ field, message: expect.stringMatching(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')} is refused: `)) }]);
		expect(res.body.error.message).toBe(res.body.error.details[0].message);
	}

	it('refuses a refused host with a 400 naming the field, wherever a URL is given, and writes nothing', async () => {
		const meta = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
		expectRefused(await te.api('POST', '/v1/tasks', { queue: 'tq', name: 'x', url: meta }), 'url');
		expectRefused(await te.api('POST', '/v1/tasks', { queue: 'tq', name: 'x', url: 'http://metadata.google.internal/computeMetadata/v1/' }), 'url');
		expectRefused(
			await te.api('POST', '/v1/tasks/bulk', { tasks: [{ queue: 'tq', name: 'ok', url: receiver.url }, { queue: 'tq', name: 'x', url: 'http://[fe80::1]/' }] }),
			'tasks[1].url',
		);
		expectRefused(await te.api('POST', '/v1/queues/tq/handlers', { url: 'http://[::ffff:169.254.169.254]:5678/webhook/x' }), 'url');
		expectRefused(await te.api('POST', '/v1/batches', { queue: 'tq', name: 'b', chunkSize: 1, items: [1], url: 'http://100.100.100.200/' }), 'url');
		expectRefused(await te.api('POST', '/v1/batches', { queue: 'tq', name: 'b', chunkSize: 1, items: [1], callbackUrl: 'http://[fd00:ec2::254]/' }), 'callbackUrl');
		expectRefused(await te.api('POST', '/v1/schedules', { name: 's', queue: 'tq', cron: '0 0 1 1 *', url: 'http://0xa9fea9fe/' }), 'url');
		expectRefused(await te.api('PUT', '/v1/schedules/by-name/s2', { queue: 'tq', cron: '0 0 1 1 *', url: 'http://metadata/' }), 'url');

		expect((await te.api('GET', '/v1/tasks?queue=tq')).body.items).toEqual([]);
		expect((await te.api('GET', '/v1/queues/tq/handlers')).body.items).toEqual([]);
		expect((await te.api('GET', '/v1/batches')).body.items).toEqual([]);
		expect((await te.api('GET', '/v1/schedules')).body.items).toEqual([]);
	});

	it('fails a task whose host resolves to a refused address at once: target_refused, one attempt, nothing sent', async () => {
		const before = receiver.requests.length;
		const ids: string[] = [];
		for (const host of ['rebind.test', 'mapped.test']) {
			const res = await te.api('POST', '/v1/tasks', { queue: 'tq', name: 'probe', url: `http://${host}:${receiver.port}/hook` });
			expect(res.status, JSON.stringify(res.body)).toBe(201);
			ids.push(res.body.id);
		}
		for (const id of ids) {
			const task = await eventually(async () => {
				const t = (await te.api('GET', `/v1/tasks/${id}`)).body;
				return t.state === 'failed' ? t : undefined;
			});
			expect(task.attemptCount).toBe(1);
			expect(task.attempts).toHaveLength(1);
			expect(task.attempts[0]).toMatchObject({ errorClass: 'target_refused', statusCode: null, responseSnippet: null });
			expect(task.attempts[0].error).toMatch(/^target refused: (rebind|mapped)\.test resolves to a refused address: .* is a link-local address \(always refused\)$/);
		}
		const dead = (await te.api('GET', '/v1/dead-letters?queue=tq')).body.groups;
		expect(dead.map((g: { errorClass: string; count: number }) => [g.errorClass, g.count])).toEqual([
			['target_refused', 1],
			['target_refused', 1],
		]);
		expect(receiver.requests.length).toBe(before);
		expect(guard.blocked).toEqual([]);
	});

	it('fails a handler delivery the same way, and delivers through a name that resolves to loopback', async () => {
		await te.api('POST', '/v1/queues', { name: 'hq' });
		const bad = await te.api('POST', '/v1/queues/hq/handlers', { url: `http://rebind.test:${receiver.port}/hook` });
		expect(bad.status).toBe(201); // a name: its address is checked when connecting
		const refused = (await te.api('POST', '/v1/tasks', { queue: 'hq', name: 'via-handler' })).body;
		const failed = await eventually(async () => {
			const t = (await te.api('GET', `/v1/tasks/${refused.id}`)).body;
			return t.state === 'failed' ? t : undefined;
		});
		expect(failed.attempts.map((a: { errorClass: string }) => a.errorClass)).toEqual(['target_refused']);

		const ok = (await te.api('POST', '/v1/tasks', { queue: 'tq', name: 'fine', url: `http://worker.test:${receiver.port}/hook` })).body;
		await eventually(async () => (await te.api('GET', `/v1/tasks/${ok.id}`)).body.state === 'completed');
		expect(receiver.requests.at(-1)?.json).toMatchObject({ id: ok.id });
		expect(guard.blocked).toEqual([]);
	});
});
