// What a node says when the engine refuses the key or cannot be reached: run for real through
// n8n-core (httpRequestWithAuthentication and its NodeApiError), against a stand-in engine that
// answers 401 and 403 with the engine's own error bodies, and against a closed port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundTasksApi } from '../../credentials/BackgroundTasksApi.credentials';
import { runNode } from './harness.js';
import { byName } from './nodeEngine.js';

let server: Server;
let baseUrl: string;

beforeAll(async () => {
	server = createServer((request, response) => {
		const key = (request.headers.authorization ?? '').replace(/^Bearer /, '');
		response.setHeader('content-type', 'application/json');
		if (key === 'read-key-000000000000') {
			response.statusCode = 403;
			response.end(JSON.stringify({ error: { code: 'forbidden', message: `This API key has scope "read"; ${request.method} ${request.url} needs scope "write"` } }));
			return;
		}
		response.statusCode = 401;
		response.end(JSON.stringify({ error: { code: 'unauthorized', message: 'Missing or invalid API key' } }));
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
	await new Promise((resolve) => server?.close(resolve));
});

const enqueue = { resource: 'task', operation: 'enqueue', queue: byName('emails'), taskName: 'send', payloadSource: 'inputItem', when: 'now', options: {} };

describe('engine errors about the credential', () => {
	it('explains a 403 by the key\'s scope, keeping the engine\'s message', async () => {
		const { error } = await runNode('enqueueTask', enqueue, { credentials: { baseUrl, apiKey: 'read-key-000000000000' } });
		expect(error?.name).toBe('NodeApiError');
		expect(error?.httpCode).toBe('403');
		expect(error?.message).toContain('needs scope "write"');
		expect(error?.description).toMatch(/scope does not allow this/);
		expect(error?.description).toMatch(/"read".*"write".*"admin"/s);
		expect(error?.description).toContain('API_KEYS=yourkey:write');
		expect(error?.description).toContain('Engine error code: forbidden (HTTP 403)');
	});

	it('explains a 403 on every node, Queue Health included', async () => {
		const { error } = await runNode(
			'queueHealth',
			{ resource: 'queue', operation: 'getHealth' },
			{ credentials: { baseUrl, apiKey: 'read-key-000000000000' } },
		);
		expect(error?.httpCode).toBe('403');
		expect(error?.description).toMatch(/scope does not allow this/);
	});

	it('explains a 401 by the key and API_KEYS', async () => {
		const { error } = await runNode('enqueueTask', enqueue, { credentials: { baseUrl, apiKey: 'not-a-key-0000000000' } });
		expect(error?.httpCode).toBe('401');
		expect(error?.description).toContain('API_KEYS');
	});

	it('says what to check when nothing answers at the base URL', async () => {
		const { error } = await runNode('enqueueTask', enqueue, { credentials: { baseUrl: 'http://127.0.0.1:1', apiKey: 'any-key-000000000000' } });
		expect(error?.name).toBe('NodeApiError');
		expect(error?.description).toContain('could not be reached (ECONNREFUSED)');
		expect(error?.description).toContain('Base URL');
		expect(error?.description).toContain('engine is running');
	});
});

describe('credential test messages (n8n shows a matching rule\'s message instead of the status text)', () => {
	const rules = new BackgroundTasksApi().test.rules ?? [];
	const messageFor = (status: number) =>
		rules.find((rule) => rule.type === 'responseCode' && rule.properties.value === status)?.properties.message;

	it('names what to check for a wrong key, a key without scope, and a wrong base URL', () => {
		expect(messageFor(401)).toMatch(/API key.*API_KEYS/s);
		expect(messageFor(403)).toMatch(/scope/);
		expect(messageFor(404)).toMatch(/Base URL/);
		expect(messageFor(502)).toMatch(/engine/);
		expect(messageFor(503)).toMatch(/engine/);
	});
});
