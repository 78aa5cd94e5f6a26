import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * The auth sweep: every route and method of `/openapi.json`, without a key and with a wrong one,
 * over real HTTP. Each must be a 401 in the error shape — except the exact public allow-list
 * (README, "Security"): the probes, the OpenAPI document and the docs page.
 */

const PUBLIC = new Set(['GET /v1/health', 'GET /v1/health/ready', 'GET /openapi.json', 'GET /docs']);

/** Well-formed values, so a route could not refuse a request for its input before checking the key. */
const PARAM_VALUES: Record<string, string> = { id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8', name: 'sweep' };

let te: TestEngine;
let origin = '';

beforeAll(async () => {
	te = await startTestEngine({}, { background: false });
	origin = await te.engine.server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => te?.stop());

describe('auth sweep over /openapi.json', () => {
	it('answers 401 in the error shape on every route but the public ones, without a key or with a wrong one', async () => {
		const doc = (await (await fetch(`${origin}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
		const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })));
		// The document hides itself and the docs page; the sweep covers them too.
		routes.push({ method: 'GET', path: '/openapi.json' }, { method: 'GET', path: '/docs' });

		const keys: [string, Record<string, string>][] = [
			['no key', {}],
			['wrong key', { authorization: 'Bearer not-the-key-0123456789abcdef' }],
			['empty bearer', { authorization: 'Bearer ' }],
			['other scheme', { authorization: 'Basic dGVzdDp0ZXN0' }],
		];
		const problems: string[] = [];
		let refused = 0;
		let open = 0;
		for (const { method, path } of routes) {
			const url = `${origin}${path.replace(/\{(\w+)\}/g, (_, name: string) => PARAM_VALUES[name])}`;
			const isPublic = PUBLIC.has(`${method} ${path}`);
			for (const [label, headers] of keys) {
				const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
				const res = await fetch(url, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body, redirect: 'manual' });
				const text = await res.text();
				if (isPublic) {
					if (res.status === 401 || res.status >= 500) problems.push(`${method} ${path} (${label}) is public but answered ${res.status}`);
					open++;
					continue;
				}
				let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
				try {
					error = (JSON.parse(text) as { error?: typeof error }).error;
				} catch {
					// reported below
				}
				if (res.status !== 401 || typeof error?.code !== 'string' || typeof error.message !== 'string' || !Array.isArray(error.details)) {
					problems.push(`${method} ${path} (${label}) → ${res.status} ${text.slice(0, 200)}`);
				} else {
					if (res.headers.get('www-authenticate') !== 'Bearer') problems.push(`${method} ${path} (${label}) → 401 without WWW-Authenticate: Bearer`);
					refused++;
				}
			}
		}
		console.log(
			`auth sweep: ${routes.length} routes × ${keys.length} credentials = ${refused + open} requests; ${refused} × 401, ` +
				`${open} to the ${PUBLIC.size} public routes (${[...PUBLIC].join(', ')}); problems: ${problems.length}`,
		);
		expect(problems).toEqual([]);
		expect(refused).toBe((routes.length - PUBLIC.size) * keys.length);
	});
});
