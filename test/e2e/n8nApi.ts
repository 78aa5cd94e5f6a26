import { parseBody, type Json } from './engineProcess.js';

/** The owner the harness creates on a fresh n8n (the password meets n8n's rules). */
export const OWNER = { email: 'owner@e2e.test', firstName: 'E2E', lastName: 'Owner', password: 'E2e-owner-Passw0rd' };

/**
 * n8n ties its auth cookie to a browser id sent as a header; any fixed value works as long as every
 * cookie-authenticated call sends the same one.
 */
const BROWSER_ID = 'background-tasks-e2e';

export interface N8nExecution {
	id: string;
	workflowId: string;
	mode: string;
	status: string;
	finished: boolean;
	startedAt: string;
	stoppedAt: string | null;
	data?: Json;
}

export interface N8nApi {
	readonly apiKey: string;
	/** Calls n8n's public API (`/api/v1…`) with the API key. */
	publicApi<T = Json>(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: T }>;
	/** Creates a workflow from its JSON (`name`, `nodes`, `connections`, optional `settings`); returns its id. */
	createWorkflow(workflow: { name: string; nodes: unknown[]; connections: unknown; settings?: unknown }): Promise<string>;
	activate(workflowId: string): Promise<void>;
	deactivate(workflowId: string): Promise<void>;
	/** Executions of a workflow, newest first; `includeData` adds each run's node outputs. */
	executions(workflowId: string, options?: { includeData?: boolean }): Promise<N8nExecution[]>;
	/** Creates a credential (`type` e.g. `backgroundTasksApi`, `data` its fields); returns its id. */
	createCredential(type: string, name: string, data: Record<string, unknown>): Promise<string>;
	/** Names of the node and credential types this n8n loaded (what its editor offers). */
	loadedTypes(): Promise<{ nodes: string[]; credentials: string[] }>;
}

/**
 * Creates the owner of a fresh n8n (`POST /rest/owner/setup`, open while no owner exists) and an
 * API key with every scope the instance offers, and returns a client of the public API.
 */
export async function setUpN8nApi(baseUrl: string): Promise<N8nApi> {
	const setup = await fetch(`${baseUrl}/rest/owner/setup`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'browser-id': BROWSER_ID },
		body: JSON.stringify(OWNER),
	});
	if (!setup.ok) throw new Error(`n8n owner setup answered ${setup.status}: ${await setup.text()}`);
	const cookie = setup.headers
		.getSetCookie()
		.map((c) => c.split(';')[0])
		.join('; ');
	if (!cookie.includes('n8n-auth=')) throw new Error(`n8n owner setup set no auth cookie (got "${cookie}")`);

	const rest = async (method: string, restPath: string, body?: unknown) => {
		const res = await fetch(`${baseUrl}/rest${restPath}`, {
			method,
			headers: { cookie, 'browser-id': BROWSER_ID, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const parsed = await parseBody(res);
		if (!res.ok) throw new Error(`n8n ${method} /rest${restPath} answered ${res.status}: ${JSON.stringify(parsed)}`);
		return parsed.data;
	};
	const scopes: string[] = await rest('GET', '/api-keys/scopes');
	const key = await rest('POST', '/api-keys', { label: 'background-tasks-e2e', scopes, expiresAt: null });
	const apiKey: string = key.rawApiKey;

	const publicApi = async (method: string, apiPath: string, body?: unknown) => {
		const res = await fetch(`${baseUrl}/api/v1${apiPath}`, {
			method,
			headers: { 'x-n8n-api-key': apiKey, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		return { status: res.status, body: await parseBody(res) };
	};
	const expectOk = async (method: string, apiPath: string, body?: unknown) => {
		const res = await publicApi(method, apiPath, body);
		if (res.status < 200 || res.status > 299) throw new Error(`n8n ${method} /api/v1${apiPath} answered ${res.status}: ${JSON.stringify(res.body)}`);
		return res.body;
	};

	return {
		apiKey,
		publicApi,
		async createWorkflow(workflow) {
			const created = await expectOk('POST', '/workflows', { settings: { executionOrder: 'v1' }, ...workflow });
			return created.id as string;
		},
		async activate(workflowId) {
			await expectOk('POST', `/workflows/${workflowId}/activate`);
		},
		async deactivate(workflowId) {
			await expectOk('POST', `/workflows/${workflowId}/deactivate`);
		},
		async createCredential(type, name, data) {
			const created = await expectOk('POST', '/credentials', { type, name, data });
			return created.id as string;
		},
		async loadedTypes() {
			// The editor's type lists; served under the auth cookie, outside /rest.
			const list = async (file: string) => {
				const res = await fetch(`${baseUrl}/types/${file}`, { headers: { cookie, 'browser-id': BROWSER_ID } });
				if (!res.ok) throw new Error(`n8n GET /types/${file} answered ${res.status}`);
				return ((await res.json()) as Array<{ name: string }>).map((t) => t.name);
			};
			return { nodes: await list('nodes.json'), credentials: await list('credentials.json') };
		},
		async executions(workflowId, options = {}) {
			const query = new URLSearchParams({ workflowId, includeData: String(options.includeData ?? false), limit: '250' });
			const page = await expectOk('GET', `/executions?${query}`);
			return page.data as N8nExecution[];
		},
	};
}
