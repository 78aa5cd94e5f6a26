import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

describe('queues and handlers', () => {
	let te: TestEngine;
	beforeAll(async () => {
		te = await startTestEngine({ TARGET_ALLOW: '127.0.0.1,localhost' });
	});
	afterAll(async () => te?.stop());

	it('creates, reads, lists, updates (merging) and deletes a queue', async () => {
		const created = await te.api('POST', '/v1/queues', {
			name: 'orders.v1',
			retry: { limit: 7, delaySeconds: 5 },
			timeoutSeconds: 20,
			priority: 'high',
			concurrency: 3,
			rateLimit: { max: 100, periodSeconds: 60 },
		});
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({
			name: 'orders.v1',
			retry: { limit: 7, delaySeconds: 5 },
			timeoutSeconds: 20,
			priority: 10,
			concurrency: 3,
			rateLimit: { max: 100, periodSeconds: 60 },
			paused: false,
		});
		expect(created.body.secret).toMatch(/^whsec_/);

		expect((await te.api('POST', '/v1/queues', { name: 'orders.v1' })).body.error.code).toBe('queue_exists');

		const updated = await te.api('PUT', '/v1/queues/orders.v1', { retry: { backoff: 'fixed' }, rateLimit: null });
		expect(updated.status).toBe(200);
		expect(updated.body.retry).toEqual({ limit: 7, delaySeconds: 5, backoff: 'fixed' });
		expect(updated.body.rateLimit).toBeNull();
		expect(updated.body.concurrency).toBe(3);

		await te.api('POST', '/v1/queues', { name: 'a-first' });
		const page1 = await te.api('GET', '/v1/queues?limit=1');
		expect(page1.body.items.map((q: { name: string }) => q.name)).toEqual(['a-first']);
		const page2 = await te.api('GET', `/v1/queues?limit=1&cursor=${page1.body.nextCursor}`);
		expect(page2.body.items.map((q: { name: string }) => q.name)).toEqual(['orders.v1']);
		expect(page2.body.nextCursor).toBeNull();

		expect((await te.api('POST', '/v1/queues/orders.v1/pause')).body.paused).toBe(true);
		expect((await te.api('POST', '/v1/queues/orders.v1/resume')).body.paused).toBe(false);

		const before = created.body.secret;
		const rotated = await te.api('POST', '/v1/queues/orders.v1/rotate-secret');
		expect(rotated.body.secret).toMatch(/^whsec_/);
		expect(rotated.body.secret).not.toBe(before);

		expect((await te.api('DELETE', '/v1/queues/orders.v1')).status).toBe(204);
		expect((await te.api('GET', '/v1/queues/orders.v1')).status).toBe(404);
	});

	it('refuses to delete a queue with unfinished tasks unless forced', async () => {
		await te.api('POST', '/v1/queues', { name: 'busy' });
		const task = await te.api('POST', '/v1/tasks', { queue: 'busy', name: 'x', delaySeconds: 3600 });
		expect(task.status).toBe(201);
		const refused = await te.api('DELETE', '/v1/queues/busy');
		expect(refused.status).toBe(409);
		expect(refused.body.error.code).toBe('queue_not_empty');
		expect((await te.api('GET', `/v1/tasks/${task.body.id}`)).status).toBe(200);
		expect((await te.api('DELETE', '/v1/queues/busy?force=true')).status).toBe(204);
		expect((await te.api('GET', `/v1/tasks/${task.body.id}`)).status).toBe(404);
	});

	it('rejects bad queue input naming the field, writing nothing', async () => {
		const cases: [unknown, string][] = [
			[{}, 'name'],
			[{ name: '' }, 'name'],
			[{ name: 'has space' }, 'name'],
			[{ name: 'x'.repeat(65) }, 'name'],
			[{ name: 'q', concurrency: 0 }, 'concurrency'],
			[{ name: 'q', concurrency: '3' }, 'concurrency'],
			[{ name: 'q', retry: { limit: -1 } }, 'retry.limit'],
			[{ name: 'q', retry: { limit: 1000 } }, 'retry.limit'],
			[{ name: 'q', retry: { backoff: 'linear' } }, 'retry.backoff'],
			[{ name: 'q', retry: { delaySeconds: 60, maxDelaySeconds: 10 } }, 'retry.maxDelaySeconds'],
			[{ name: 'q', timeoutSeconds: 0 }, 'timeoutSeconds'],
			[{ name: 'q', timeoutSeconds: 3601 }, 'timeoutSeconds'],
			[{ name: 'q', priority: 101 }, 'priority'],
			[{ name: 'q', priority: 'urgent' }, 'priority'],
			[{ name: 'q', rateLimit: { max: 5 } }, 'rateLimit.periodSeconds'],
			[{ name: 'q', colour: 'blue' }, 'colour'],
		];
		for (const [body, field] of cases) {
			const res = await te.api('POST', '/v1/queues', body);
			expect(res.status, JSON.stringify(body)).toBe(400);
			expect(res.body.error.details.map((d: { field: string }) => d.field), JSON.stringify(body)).toContain(field);
			expect(res.body.error.message).toContain(field);
		}
		expect((await te.api('GET', '/v1/queues/q')).status).toBe(404);
		expect((await te.api('PUT', '/v1/queues/missing', { paused: true })).status).toBe(404);
	});

	it('registers handlers idempotently per url and mode, with their own secret', async () => {
		await te.api('POST', '/v1/queues', { name: 'hq' });
		const first = await te.api('POST', '/v1/queues/hq/handlers', { url: 'http://127.0.0.1:9/a' });
		expect(first.status).toBe(201);
		expect(first.body).toMatchObject({ url: 'http://127.0.0.1:9/a', events: ['task'], mode: 'production', healthy: true });
		expect(first.body.secret).toMatch(/^whsec_/);
		const again = await te.api('POST', '/v1/queues/hq/handlers', { url: 'http://127.0.0.1:9/a', events: ['task', 'batch'] });
		expect(again.status).toBe(200);
		expect(again.body.id).toBe(first.body.id);
		expect(again.body.events).toEqual(['task', 'batch']);
		const test = await te.api('POST', '/v1/queues/hq/handlers', { url: 'http://127.0.0.1:9/a', mode: 'test' });
		expect(test.status).toBe(201);
		expect((await te.api('GET', '/v1/queues/hq/handlers')).body.items).toHaveLength(2);
		expect((await te.api('GET', `/v1/queues/hq/handlers/${first.body.id}`)).body.id).toBe(first.body.id);
		expect((await te.api('DELETE', `/v1/queues/hq/handlers/${first.body.id}`)).status).toBe(204);
		expect((await te.api('DELETE', `/v1/queues/hq/handlers/${first.body.id}`)).status).toBe(404);
		expect((await te.api('DELETE', '/v1/queues/hq/handlers/not-a-uuid')).status).toBe(400);

		for (const [url, why] of [
			['ftp://127.0.0.1/x', 'http'],
			['http://user:pw@127.0.0.1/x', 'credentials'],
			['not a url', 'absolute'],
			['http://10.1.2.3/hook', 'TARGET_ALLOW'],
			['http://169.254.169.254/hook', 'link-local'],
		]) {
			const res = await te.api('POST', '/v1/queues/hq/handlers', { url });
			expect(res.status, url).toBe(400);
			expect(res.body.error.details[0].field).toBe('url');
			expect(res.body.error.message).toContain(why);
		}
		expect((await te.api('POST', '/v1/queues/nope/handlers', { url: 'http://127.0.0.1:9/a' })).status).toBe(404);
	});
});
