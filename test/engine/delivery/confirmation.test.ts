// Handler `confirm` (docs/delivery-contract.md, issue 10 item 2): a 2xx from a handler registered with
// `confirm: true` completes its task only with the handler's confirmation marker. n8n answers every
// request with `200 n8n is starting up. Please wait` (text/html) while it boots; such an answer must
// be retried as `unconfirmed`, never kept as a finished task.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { confirmationMarker, isConfirmed } from '../../../engine/src/delivery/confirmation.js';
import { createDeliveryClient } from '../../../engine/src/delivery/httpDelivery.js';
import { eventually, startTestEngine, type TestEngine } from '../../helpers/engine.js';
import { confirmVectors as vectors } from '../../vectors/taskConfirm.js';


/** Exactly what a booting n8n answers to any request (abstract-server.ts: `res.send(...)` before migrations are done). */
const BOOT_BODY = 'n8n is starting up. Please wait';
function answerAsBootingN8n(res: http.ServerResponse): void {
	res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-powered-by': 'Express' }).end(BOOT_BODY);
}

/** The marker header a handler holding `secret` returns for the delivery `req` (what the Task Trigger does). */
function markerFor(secret: string, req: Received, override: { id?: string; attempt?: number } = {}): string {
	const attempt = override.attempt ?? (JSON.parse(req.body) as { attempt: number }).attempt;
	const id = override.id ?? String(req.headers['webhook-id']);
	return `v1,${confirmationMarker(secret, { id, attempt, timestampSeconds: Number(req.headers['webhook-timestamp']) })}`;
}

interface Received {
	headers: http.IncomingHttpHeaders;
	body: string;
}

type Answer = (req: Received, res: http.ServerResponse, index: number) => void;

const servers: Array<() => Promise<void>> = [];
afterEach(async () => {
	await Promise.all(servers.splice(0).map((close) => close()));
});

/** A loopback HTTP handler whose answers the test scripts request by request. */
async function startHandler(answer: Answer) {
	const requests: Received[] = [];
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			const received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
			const index = requests.push(received) - 1;
			answer(received, res, index);
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	servers.push(
		() =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	);
	return { url: `http://127.0.0.1:${port}/webhook/trigger`, requests };
}

describe('confirmation marker (shared vectors)', () => {
	it.each(vectors.map((v) => [v.name, v] as const))('computes %s', (_name, v) => {
		const expected = confirmationMarker(v.secret, { id: v.id, attempt: v.attempt, timestampSeconds: v.timestamp });
		expect(`v1,${expected}`).toBe(v.header);
		expect(isConfirmed(v.header, expected)).toBe(true);
	});

	it('rejects the marker of another task, attempt, timestamp or secret, a missing one and other versions', () => {
		const v = vectors.find((vector) => vector.name === 'task-delivery')!;
		const expected = confirmationMarker(v.secret, { id: v.id, attempt: v.attempt, timestampSeconds: v.timestamp });
		const other = (change: Partial<{ id: string; attempt: number; timestampSeconds: number }>, secret = v.secret) =>
			`v1,${confirmationMarker(secret, { id: v.id, attempt: v.attempt, timestampSeconds: v.timestamp, ...change })}`;
		expect(isConfirmed(other({ id: 'tsk_another' }), expected)).toBe(false);
		expect(isConfirmed(other({ attempt: 2 }), expected)).toBe(false);
		expect(isConfirmed(other({ timestampSeconds: v.timestamp + 1 }), expected)).toBe(false);
		expect(isConfirmed(other({}, `whsec_${randomBytes(32).toString('base64')}`), expected)).toBe(false);
		expect(isConfirmed(undefined, expected)).toBe(false);
		expect(isConfirmed('', expected)).toBe(false);
		expect(isConfirmed(`v2,${expected}`, expected)).toBe(false);
		expect(isConfirmed(expected, expected)).toBe(false);
		// Several entries, as with signatures: any one matching is enough.
		expect(isConfirmed(`${other({ attempt: 7 })} v1,${expected}`, expected)).toBe(true);
	});
});

describe('delivery client: a 2xx that must be confirmed', () => {
	const client = createDeliveryClient();
	afterAll(() => client.close());
	const request = (url: string, confirmation?: string) => ({
		url,
		body: '{"id":"tsk_1","attempt":1}',
		headers: { 'content-type': 'application/json' },
		timeoutMs: 2000,
		...(confirmation === undefined ? {} : { confirmation }),
	});

	it("retries n8n's boot page as unconfirmed, keeping it as the snippet; without a confirmation it completes", async () => {
		const booting = await startHandler((_req, res) => answerAsBootingN8n(res));
		expect(await client.send(request(booting.url, 'expected-marker'))).toEqual({
			kind: 'retry',
			statusCode: 200,
			errorClass: 'unconfirmed',
			error: 'HTTP 200 OK without confirmation (x-task-confirm)',
			durationMs: expect.any(Number),
			responseSnippet: BOOT_BODY,
		});
		expect(await client.send(request(booting.url))).toMatchObject({ kind: 'delivered', statusCode: 200, result: null, responseSnippet: BOOT_BODY });
	});

	it('completes a 2xx carrying the marker (204 too), accepts a marked 202 (async), and retries a wrong one', async () => {
		const answers = [200, 202, 204];
		const marked = await startHandler((_req, res, i) => res.writeHead(answers[i % 3]!, { 'x-task-confirm': 'v1,right' }).end(i % 3 === 2 ? undefined : '{"ok":true}'));
		expect(await client.send(request(marked.url, 'right'))).toMatchObject({ kind: 'delivered', statusCode: 200 });
		expect(await client.send(request(marked.url, 'right'))).toMatchObject({ kind: 'accepted', statusCode: 202 });
		expect(await client.send(request(marked.url, 'right'))).toMatchObject({ kind: 'delivered', statusCode: 204 });
		expect(await client.send(request(marked.url, 'other'))).toMatchObject({
			kind: 'retry',
			errorClass: 'unconfirmed',
			error: 'HTTP 200 OK with a wrong confirmation (x-task-confirm)',
		});
		// A 202 proves no more than a 200 without the marker: a booting n8n or a proxy could send either.
		expect(await client.send(request(marked.url, 'other'))).toMatchObject({ kind: 'retry', errorClass: 'unconfirmed', statusCode: 202 });
	});

	it('leaves other statuses as they were: a marked 500 is retried, a marked 400 fails', async () => {
		const failing = await startHandler((_req, res, i) => res.writeHead(i === 0 ? 500 : 400, { 'x-task-confirm': 'v1,right' }).end());
		expect(await client.send(request(failing.url, 'right'))).toMatchObject({ kind: 'retry', statusCode: 500 });
		expect((await client.send(request(failing.url, 'right'))).kind).toBe('failed');
	});
});

describe('engine: handlers registered with confirm', () => {
	let te: TestEngine;
	let n = 0;
	beforeAll(async () => {
		te = await startTestEngine({ POLL_INTERVAL_MS: '200' });
	});
	afterAll(async () => te?.stop());

	/** A fresh queue whose retries come at once (fixed 0 s), with one handler at `url`. */
	async function queueWithHandler(url: string, handler: Record<string, unknown>, retryLimit = 5) {
		const name = `confirm-${++n}`;
		const created = await te.api('POST', '/v1/queues', { name, retry: { limit: retryLimit, delaySeconds: 0, backoff: 'fixed' } });
		expect(created.status).toBe(201);
		const registered = await te.api('POST', `/v1/queues/${name}/handlers`, { url, ...handler });
		expect(registered.status, JSON.stringify(registered.body)).toBe(201);
		return { name, handler: registered.body as { id: string; secret: string; confirm: boolean; healthy: boolean } };
	}

	async function enqueue(body: object): Promise<{ id: string }> {
		const res = await te.api('POST', '/v1/tasks', body);
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body;
	}

	async function finalTask(id: string) {
		return eventually(async () => {
			const task = (await te.api('GET', `/v1/tasks/${id}`)).body;
			return ['completed', 'failed'].includes(task.state) ? task : undefined;
		}, 20_000, `task ${id} to finish`);
	}

	it('registers confirm (default false), reports it, and updates it when the same URL registers again', async () => {
		const url = 'http://127.0.0.1:9/webhook/a';
		const { name, handler } = await queueWithHandler(url, { confirm: true });
		expect(handler).toMatchObject({ url, confirm: true, healthy: true });
		expect((await te.api('GET', `/v1/queues/${name}/handlers/${handler.id}`)).body.confirm).toBe(true);
		const again = await te.api('POST', `/v1/queues/${name}/handlers`, { url });
		expect(again).toMatchObject({ status: 200, body: { id: handler.id, secret: handler.secret, confirm: false } });
		const plain = await te.api('POST', `/v1/queues/${name}/handlers`, { url: 'http://127.0.0.1:9/webhook/b' });
		expect(plain.body.confirm).toBe(false);
		const wrong = await te.api('POST', `/v1/queues/${name}/handlers`, { url, confirm: 'yes' });
		expect(wrong.status).toBe(400);
		expect(JSON.stringify(wrong.body)).toContain('confirm');
	});

	it("retries n8n's boot answer as unconfirmed until the handler answers with its marker", async () => {
		let secret = '';
		const server = await startHandler((req, res, i) => {
			if (i < 2) return answerAsBootingN8n(res);
			res.writeHead(200, { 'content-type': 'application/json', 'x-task-confirm': markerFor(secret, req) }).end('{"ran":true}');
		});
		const { name, handler } = await queueWithHandler(server.url, { confirm: true });
		secret = handler.secret;
		const task = await enqueue({ queue: name, name: 'during-boot', payload: { n: 1 } });
		const done = await finalTask(task.id);

		expect(done).toMatchObject({ state: 'completed', attemptCount: 3, result: { ran: true } });
		expect(done.attempts.map((a: { outcome: string; statusCode: number; errorClass: string | null }) => [a.outcome, a.statusCode, a.errorClass])).toEqual([
			['retry', 200, 'unconfirmed'],
			['retry', 200, 'unconfirmed'],
			['delivered', 200, null],
		]);
		expect(done.attempts[0]).toMatchObject({ responseSnippet: BOOT_BODY, error: 'HTTP 200 OK without confirmation (x-task-confirm)' });
		expect(server.requests.map((r) => r.headers['x-task-attempt'])).toEqual(['1', '2', '3']);
	});

	it('keeps "any 2xx completes" for handlers without confirm and for task URLs', async () => {
		const server = await startHandler((_req, res) => answerAsBootingN8n(res));
		const { name } = await queueWithHandler(server.url, {});
		const viaHandler = await finalTask((await enqueue({ queue: name, name: 'plain' })).id);
		expect(viaHandler).toMatchObject({ state: 'completed', attemptCount: 1, result: null });
		expect(viaHandler.attempts[0]).toMatchObject({ outcome: 'delivered', statusCode: 200, responseSnippet: BOOT_BODY });

		// A task with its own URL, in a queue whose handler requires confirmation.
		const confirming = await queueWithHandler('http://127.0.0.1:9/webhook/unused', { confirm: true });
		const viaUrl = await finalTask((await enqueue({ queue: confirming.name, name: 'own-url', url: server.url })).id);
		expect(viaUrl).toMatchObject({ state: 'completed', attemptCount: 1 });
	});

	it("does not accept another task's marker, a previous attempt's, or one made with another secret", async () => {
		let secret = '';
		const forgeries: Array<(req: Received) => string> = [
			(req) => markerFor(secret, req, { id: '3f1d3c4e-0000-4000-8000-000000000000' }),
			(req) => markerFor(secret, req, { attempt: Number(req.headers['x-task-attempt']) - 1 }),
			(req) => markerFor(`whsec_${randomBytes(32).toString('base64')}`, req),
			() => 'v1,',
		];
		const server = await startHandler((req, res, i) => {
			const marker = i < forgeries.length ? forgeries[i]!(req) : markerFor(secret, req);
			res.writeHead(200, { 'content-type': 'application/json', 'x-task-confirm': marker }).end('{"ok":true}');
		});
		const { name, handler } = await queueWithHandler(server.url, { confirm: true });
		secret = handler.secret;
		const done = await finalTask((await enqueue({ queue: name, name: 'forged' })).id);
		expect(done.state).toBe('completed');
		expect(done.attempts.map((a: { errorClass: string | null }) => a.errorClass)).toEqual(['unconfirmed', 'unconfirmed', 'unconfirmed', 'unconfirmed', null]);
		expect(done.attempts[0].error).toBe('HTTP 200 OK with a wrong confirmation (x-task-confirm)');
	});

	it('counts unconfirmed answers as failures for handler health, and dead-letters when attempts run out', async () => {
		const server = await startHandler((_req, res) => answerAsBootingN8n(res));
		const { name, handler } = await queueWithHandler(server.url, { confirm: true }, 2);
		const done = await finalTask((await enqueue({ queue: name, name: 'never-confirmed' })).id);
		expect(done).toMatchObject({ state: 'failed', attemptCount: 3, result: null, lastError: 'HTTP 200 OK without confirmation (x-task-confirm)' });
		// Three failures in a row: unhealthy, exactly as three 404s would make it.
		expect((await te.api('GET', `/v1/queues/${name}/handlers/${handler.id}`)).body.healthy).toBe(false);
		const groups = (await te.api('GET', `/v1/dead-letters?queue=${name}`)).body.groups;
		expect(groups).toEqual([expect.objectContaining({ errorClass: 'unconfirmed', count: 1 })]);
	});
});
