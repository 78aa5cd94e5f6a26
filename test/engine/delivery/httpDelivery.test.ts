import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDeliveryClient, type DeliveryClient, type DeliveryRequest } from '../../../engine/src/delivery/httpDelivery.js';

interface Received {
	method: string;
	url: string;
	headers: http.IncomingHttpHeaders;
	body: Buffer;
}

/** A real HTTP server on 127.0.0.1 that records every request it receives. */
async function startServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
	const requests: Received[] = [];
	const connections = new Set<unknown>();
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
			handler(req, res);
		});
	});
	server.on('connection', (socket) => connections.add(socket));
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	const close = () => {
		server.closeAllConnections();
		return new Promise<void>((resolve) => server.close(() => resolve()));
	};
	cleanups.push(close);
	return { url: `http://127.0.0.1:${port}/hook`, port, requests, connections, close };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
	while (cleanups.length > 0) await cleanups.pop()!();
});

function client(opts: Parameters<typeof createDeliveryClient>[0] = {}): DeliveryClient {
	const c = createDeliveryClient(opts);
	cleanups.push(() => c.close());
	return c;
}

const request = (url: string, extra: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
	url,
	body: '{"id":"tsk_1"}',
	headers: { 'content-type': 'application/json' },
	timeoutMs: 2000,
	...extra,
});

const reply = (status: number, body = '', headers: Record<string, string> = {}) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
	res.writeHead(status, headers).end(body);
};

describe('2xx', () => {
	it('is delivered, keeping a JSON body as the result', async () => {
		const srv = await startServer(reply(200, '{"sent":true,"n":3}', { 'content-type': 'application/json' }));
		const outcome = await client().send(request(srv.url));
		expect(outcome).toEqual({
			kind: 'delivered',
			statusCode: 200,
			durationMs: expect.any(Number),
			result: { sent: true, n: 3 },
			responseSnippet: '{"sent":true,"n":3}',
		});
	});

	it('is delivered with a null result and snippet for an empty or non-JSON body', async () => {
		const empty = await startServer(reply(204));
		expect(await client().send(request(empty.url))).toMatchObject({ kind: 'delivered', statusCode: 204, result: null, responseSnippet: null });
		const text = await startServer(reply(200, 'Workflow was started'));
		expect(await client().send(request(text.url))).toMatchObject({ kind: 'delivered', result: null, responseSnippet: 'Workflow was started' });
	});

	it('is delivered when the body is 1 MiB, reading only a bounded prefix', async () => {
		const huge = `[${'"x",'.repeat(262_143)}"x"]`; // valid JSON, ~1 MiB
		const srv = await startServer(reply(200, huge, { 'content-type': 'application/json' }));
		const outcome = await client().send(request(srv.url));
		expect(outcome).toMatchObject({ kind: 'delivered', statusCode: 200, result: null });
		expect(outcome.responseSnippet).toHaveLength(16384);
		expect(huge.startsWith(outcome.responseSnippet!)).toBe(true);
	});

	it('honours custom result and snippet limits without splitting a character', async () => {
		const srv = await startServer(reply(200, JSON.stringify({ word: 'ééééé' })));
		const small = await client({ resultLimitBytes: 10, snippetLimitBytes: 12 }).send(request(srv.url));
		// {"word":"é is 11 bytes; the 12th byte is half of the next é, which is held back
		expect(small).toMatchObject({ kind: 'delivered', result: null, responseSnippet: '{"word":"é' });
		const roomy = await client({ resultLimitBytes: 100, snippetLimitBytes: 4 }).send(request(srv.url));
		expect(roomy).toMatchObject({ kind: 'delivered', result: { word: 'ééééé' }, responseSnippet: '{"wo' });
	});
});

describe('retried responses', () => {
	it.each([404, 408, 410, 425, 429, 500, 502, 503, 504])('%i is retried', async (status) => {
		const srv = await startServer(reply(status, 'not now'));
		const outcome = await client().send(request(srv.url));
		expect(outcome).toEqual({
			kind: 'retry',
			statusCode: status,
			error: `HTTP ${status} ${http.STATUS_CODES[status]}`,
			durationMs: expect.any(Number),
			responseSnippet: 'not now',
		});
	});

	it('reads Retry-After in seconds', async () => {
		const srv = await startServer(reply(503, '', { 'retry-after': '3' }));
		expect(await client().send(request(srv.url))).toMatchObject({ kind: 'retry', statusCode: 503, retryAfterSeconds: 3 });
	});

	it('reads Retry-After as an HTTP-date against the injected clock', async () => {
		const srv = await startServer(reply(429, '', { 'retry-after': 'Sun, 01 Mar 2026 12:00:45 GMT' }));
		const now = () => new Date('2026-03-01T12:00:00.000Z');
		expect(await client({ now }).send(request(srv.url))).toMatchObject({ kind: 'retry', statusCode: 429, retryAfterSeconds: 45 });
	});

	it('ignores a garbage Retry-After', async () => {
		const srv = await startServer(reply(503, '', { 'retry-after': 'later' }));
		expect(await client().send(request(srv.url))).not.toHaveProperty('retryAfterSeconds');
	});
});

describe('failed responses', () => {
	it('fails other 4xx at once', async () => {
		const srv = await startServer(reply(400, '{"error":"bad payload"}'));
		expect(await client().send(request(srv.url))).toEqual({
			kind: 'failed',
			statusCode: 400,
			error: 'HTTP 400 Bad Request',
			durationMs: expect.any(Number),
			responseSnippet: '{"error":"bad payload"}',
		});
	});

	it('fails a redirect without following it', async () => {
		const srv = await startServer((req, res) => {
			if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end();
			else res.writeHead(200).end('{}');
		});
		const outcome = await client().send(request(srv.url));
		expect(outcome).toMatchObject({ kind: 'failed', statusCode: 302, errorClass: 'redirect' });
		expect(outcome.kind !== 'delivered' && outcome.error).toContain('/elsewhere');
		expect(srv.requests.map((r) => r.url)).toEqual(['/hook']);
	});

	it('fails at once on x-task-no-retry: true, whatever the status', async () => {
		const srv = await startServer(reply(500, 'poison', { 'x-task-no-retry': 'true' }));
		expect(await client().send(request(srv.url))).toMatchObject({
			kind: 'failed',
			statusCode: 500,
			errorClass: 'no_retry',
			responseSnippet: 'poison',
		});
		const notTrue = await startServer(reply(500, '', { 'x-task-no-retry': 'false' }));
		expect(await client().send(request(notTrue.url))).toMatchObject({ kind: 'retry', statusCode: 500 });
	});
});

describe('transport errors', () => {
	it('retries a handler that never answers as a timeout', async () => {
		const srv = await startServer(() => {});
		const started = Date.now();
		const outcome = await client().send(request(srv.url, { timeoutMs: 300 }));
		expect(outcome).toMatchObject({ kind: 'retry', errorClass: 'timeout', error: 'timed out after 300 ms', responseSnippet: null });
		expect(outcome.statusCode).toBeUndefined();
		expect(Date.now() - started).toBeLessThan(1000);
		expect(outcome.durationMs).toBeGreaterThanOrEqual(250);
	});

	it('counts a body that stalls after the headers against the same timeout', async () => {
		const srv = await startServer((_req, res) => {
			res.writeHead(200, { 'content-type': 'application/json' });
			res.write('{"partial":');
		});
		const started = Date.now();
		const outcome = await client().send(request(srv.url, { timeoutMs: 300 }));
		expect(outcome).toMatchObject({ kind: 'retry', errorClass: 'timeout' });
		expect(Date.now() - started).toBeLessThan(1000);
	});

	it('stops a body that keeps trickling past the timeout', async () => {
		const srv = await startServer((_req, res) => {
			res.writeHead(200);
			const tick = setInterval(() => (res.destroyed ? clearInterval(tick) : res.write('.')), 20);
		});
		const started = Date.now();
		expect(await client().send(request(srv.url, { timeoutMs: 300 }))).toMatchObject({ kind: 'retry', errorClass: 'timeout' });
		expect(Date.now() - started).toBeLessThan(1000);
	});

	it('retries a closed port as a connection error', async () => {
		const srv = await startServer(reply(200));
		await srv.close();
		expect(await client().send(request(srv.url))).toMatchObject({ kind: 'retry', errorClass: 'connection', error: 'connection refused' });
	});

	it('retries a connection dropped before the answer', async () => {
		const srv = await startServer((req) => req.socket.destroy());
		expect(await client().send(request(srv.url))).toMatchObject({ kind: 'retry', errorClass: 'connection', error: 'socket hang up' });
	});

	it('retries a connection dropped in the middle of the body, and reuses nothing of it', async () => {
		const srv = await startServer((_req, res) => {
			res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
			res.write('{"partial":');
			setTimeout(() => res.socket?.destroy(), 20);
		});
		const c = client();
		expect(await c.send(request(srv.url))).toMatchObject({ kind: 'retry', errorClass: 'connection' });
		// The next attempt gets a connection of its own and its whole answer.
		const whole = await startServer(reply(200, '{"ok":true}'));
		expect(await c.send(request(whole.url))).toMatchObject({ kind: 'delivered', result: { ok: true } });
	});

	it('retries an unknown host as dns', async () => {
		expect(await client().send(request('http://no-such-handler.invalid/hook'))).toMatchObject({ kind: 'retry', errorClass: 'dns' });
	});

	it('retries a TLS failure as tls', async () => {
		const srv = await startServer(reply(200));
		const outcome = await client().send(request(`https://127.0.0.1:${srv.port}/hook`));
		expect(outcome).toMatchObject({ kind: 'retry', errorClass: 'tls' });
	});

	it('reports the caller aborting as aborted', async () => {
		const srv = await startServer(() => {});
		const controller = new AbortController();
		setTimeout(() => controller.abort(), 50);
		const outcome = await client().send(request(srv.url, { timeoutMs: 5000 }), controller.signal);
		expect(outcome).toMatchObject({ kind: 'retry', errorClass: 'aborted' });
		expect(outcome.durationMs).toBeLessThan(1000);
		expect(await client().send(request(srv.url), AbortSignal.abort())).toMatchObject({ kind: 'retry', errorClass: 'aborted' });
	});

	it('never throws, even for an invalid URL', async () => {
		expect(await client().send(request('not a url'))).toMatchObject({ kind: 'retry', errorClass: 'protocol' });
	});
});

describe('the request', () => {
	it('reaches the handler exactly as sent', async () => {
		const srv = await startServer(reply(200));
		const body = '  {"greeting":"Grüße, 世界 🚀","n":1}\n';
		const headers = {
			'content-type': 'application/json',
			'webhook-id': 'tsk_1',
			'webhook-timestamp': '1772366400',
			'webhook-signature': 'v1,abc= v1,def=',
			'x-task-attempt': '2',
			'x-task-queue': 'emails',
			'user-agent': 'background-tasks-engine/0.1',
		};
		await client().send(request(srv.url, { body, headers }));
		expect(srv.requests).toHaveLength(1);
		const [received] = srv.requests;
		expect(received!.method).toBe('POST');
		expect(received!.url).toBe('/hook');
		expect(received!.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
		expect(received!.headers).toMatchObject(headers);
		expect(received!.headers['content-length']).toBe(String(Buffer.byteLength(body)));
	});

	it('goes to the path and query of its URL, with the URL\'s credentials as Basic authorization', async () => {
		const srv = await startServer(reply(200));
		await client().send(request(`http://n8n%20user:p%40ss@127.0.0.1:${srv.port}/webhook/abc?x=1&y=%C3%A9`));
		expect(srv.requests).toHaveLength(1);
		expect(srv.requests[0]!.url).toBe('/webhook/abc?x=1&y=%C3%A9');
		expect(srv.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('n8n user:p@ss').toString('base64')}`);
	});

	it('reaches an IPv6 literal address', async (ctx) => {
		const server = http.createServer((_req, res) => res.end('{"v6":true}'));
		const listening = await new Promise<boolean>((resolve) => {
			server.once('error', () => resolve(false));
			server.listen(0, '::1', () => resolve(true));
		});
		// A machine without IPv6 loopback cannot run this; said, not silently passed.
		if (!listening) return ctx.skip('no IPv6 loopback on this machine');
		cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
		const { port } = server.address() as AddressInfo;
		expect(await client().send(request(`http://[::1]:${port}/hook`))).toMatchObject({ kind: 'delivered', result: { v6: true } });
	});

	it('reuses a kept-alive connection', async () => {
		const srv = await startServer(reply(200, '{}'));
		const c = client();
		for (let i = 0; i < 3; i++) expect(await c.send(request(srv.url))).toMatchObject({ kind: 'delivered' });
		expect(srv.requests).toHaveLength(3);
		expect(srv.connections.size).toBe(1);
	});
});
