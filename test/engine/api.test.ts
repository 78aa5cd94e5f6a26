import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

describe('API shell: auth, probes, errors, OpenAPI', () => {
	let te: TestEngine;
	beforeAll(async () => {
		te = await startTestEngine({ BODY_LIMIT_BYTES: '4096' });
	});
	afterAll(async () => te?.stop());

	it('serves liveness and readiness without a key', async () => {
		expect(await te.api('GET', '/v1/health', undefined, { auth: false })).toMatchObject({ status: 200, body: { status: 'ok' } });
		expect(await te.api('GET', '/v1/health/ready', undefined, { auth: false })).toMatchObject({
			status: 200,
			body: { status: 'ready', database: true, migrations: true },
		});
	});

	it('requires a bearer key everywhere else, including queue health', async () => {
		for (const url of ['/v1/queues', '/v1/tasks', '/v1/health/queues', '/v1/dead-letters']) {
			const res = await te.api('GET', url, undefined, { auth: false });
			expect(res.status, url).toBe(401);
			expect(res.body.error.code).toBe('unauthorized');
		}
		const wrong = await te.api('GET', '/v1/queues', undefined, { auth: 'not-the-key-at-all-123' });
		expect(wrong.status).toBe(401);
		expect(wrong.body.error.message).toMatch(/not valid/);
		expect((await te.api('GET', '/v1/queues')).status).toBe(200);
	});

	it('serves the OpenAPI document and docs without a key', async () => {
		const doc = await te.api('GET', '/openapi.json', undefined, { auth: false });
		expect(doc.status).toBe(200);
		expect(doc.body.openapi).toMatch(/^3\./);
		for (const path of ['/v1/queues', '/v1/tasks', '/v1/tasks/bulk', '/v1/tasks/{id}', '/v1/dead-letters', '/v1/queues/{name}/handlers']) {
			expect(doc.body.paths, path).toHaveProperty([path]);
		}
		const docs = await te.api('GET', '/docs', undefined, { auth: false });
		expect([200, 302]).toContain(docs.status);
	});

	it('answers unknown routes with a JSON 404', async () => {
		const res = await te.api('GET', '/v1/nothing-here');
		expect(res.status).toBe(404);
		expect(res.body.error).toMatchObject({ code: 'not_found' });
	});

	it('rejects malformed JSON, a wrong content type and an oversized body with JSON errors', async () => {
		const malformed = await te.api('POST', '/v1/queues', '{"name": ', { headers: { 'content-type': 'application/json' } });
		expect(malformed.status).toBe(400);
		expect(malformed.body.error.code).toBe('malformed_json');

		const text = await te.api('POST', '/v1/queues', 'name=q', { headers: { 'content-type': 'text/plain' } });
		expect(text.status).toBe(415);
		expect(text.body.error.code).toBe('unsupported_media_type');

		const big = await te.api('POST', '/v1/queues', { name: 'big', padding: 'x'.repeat(5000) });
		expect(big.status).toBe(413);
		expect(big.body.error.message).toContain('4096');

		// none of them wrote anything
		expect((await te.api('GET', '/v1/queues')).body.items).toEqual([]);
	});
});
