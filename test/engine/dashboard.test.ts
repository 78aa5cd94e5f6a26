import { existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_DIR } from '../../engine/src/api/routes/dashboard.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * The dashboard's files at /ui (README, "Dashboard"): public, served from the build
 * (engine/dist/ui, made by `npm run build`), with headers that keep a page holding an API key to
 * itself; and GET /v1/whoami, with which the page learns what its key may do. The page itself is
 * tested in a real browser (test/browser).
 */
const ADMIN = 'admin-key-dashboard-test-0001';
const READ = 'read-key-dashboard-test-00001';

describe('dashboard files and whoami', () => {
	let te: TestEngine;
	beforeAll(async () => {
		expect(existsSync(`${DASHBOARD_DIR}/index.html`), `${DASHBOARD_DIR} is built by npm run build`).toBe(true);
		te = await startTestEngine({ API_KEYS: `${ADMIN},${READ}:read` }, { background: false });
	});
	afterAll(async () => te?.stop());

	const get = (url: string, headers: Record<string, string> = {}) => te.engine.server.inject({ method: 'GET', url, headers });

	it('serves the page without a key, at /ui and at every view path', async () => {
		for (const url of ['/ui', '/ui/', '/ui/queues/emails', '/ui/tasks/00000000-0000-4000-8000-000000000000?x=1']) {
			const res = await get(url);
			expect(res.statusCode, url).toBe(200);
			expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
			expect(res.body, url).toContain('<script type="module" src="/ui/app.js">');
		}
	});

	it('serves its script and style sheet with their types, and 404 for a file it does not have', async () => {
		expect((await get('/ui/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
		expect((await get('/ui/app.css')).headers['content-type']).toBe('text/css; charset=utf-8');
		const missing = await get('/ui/nothing.js');
		expect(missing.statusCode).toBe(404);
		expect(missing.json().error.code).toBe('not_found');
	});

	it('keeps the page to itself: CSP, no sniffing, no framing, no referrer', async () => {
		const res = await get('/ui/');
		expect(res.headers['content-security-policy']).toContain("script-src 'self'");
		expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
		expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
		expect(res.headers['x-content-type-options']).toBe('nosniff');
		expect(res.headers['x-frame-options']).toBe('DENY');
		expect(res.headers['referrer-policy']).toBe('no-referrer');
	});

	it('sends gzip when asked, and 304 for a file the browser already has', async () => {
		const plain = await get('/ui/app.js');
		const zipped = await get('/ui/app.js', { 'accept-encoding': 'gzip, br' });
		expect(zipped.headers['content-encoding']).toBe('gzip');
		expect(gunzipSync(zipped.rawPayload).toString('utf8')).toBe(plain.body);
		expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
		const again = await get('/ui/app.js', { 'if-none-match': String(plain.headers.etag) });
		expect(again.statusCode).toBe(304);
		expect(again.body).toBe('');
	});

	it('opens no way around the key: a path under /ui never reaches the API', async () => {
		for (const url of ['/ui/../v1/queues', '/ui/%2e%2e/v1/queues', '/ui/..%2fv1%2fqueues']) {
			const res = await get(url);
			// Either the page (a view path), or the API's own answer to a request without a key.
			expect(res.body, url).not.toContain('"items"');
			expect([200, 400, 401, 404], url).toContain(res.statusCode);
			if (res.statusCode === 200) expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
		}
		expect((await get('/v1/queues')).statusCode).toBe(401);
	});

	it('tells a key its scope; without a key it is a 401', async () => {
		expect((await te.api('GET', '/v1/whoami', undefined, { auth: ADMIN })).body).toEqual({ scope: 'admin' });
		expect((await te.api('GET', '/v1/whoami', undefined, { auth: READ })).body).toEqual({ scope: 'read' });
		const anonymous = await te.api('GET', '/v1/whoami', undefined, { auth: false });
		expect(anonymous.status).toBe(401);
		expect(anonymous.body.error.code).toBe('unauthorized');
	});

	it('is left out of the OpenAPI document; whoami is in it', async () => {
		const doc = (await te.api('GET', '/openapi.json', undefined, { auth: false })).body;
		expect(Object.keys(doc.paths).filter((p: string) => p.startsWith('/ui'))).toEqual([]);
		expect(doc.paths['/v1/whoami'].get.responses['200']).toBeDefined();
	});
});
