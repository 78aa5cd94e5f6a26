import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, type Harness, type N8nExecution } from './harness.js';
import { parseBody, type Json } from './engineProcess.js';
import { OWNER } from './n8nApi.js';

/**
 * What the scenarios do over and over with a harness: deploy a workflow from `examples/` exactly as
 * a user imports it, wait until n8n really serves its webhooks, call them, and read executions.
 */

const examplesDir = path.resolve(import.meta.dirname, '..', '..', 'examples');

/** The name the examples give their credential (`id: null`): n8n resolves it by name on import. */
export const EXAMPLE_CREDENTIAL_NAME = 'Background Tasks account';

export interface WorkflowJson {
	activeVersionId?: string | null;
	name: string;
	nodes: Array<{ name: string; type: string; parameters: Record<string, any>; webhookId?: string; [key: string]: unknown }>;
	connections: Record<string, unknown>;
	settings?: Record<string, unknown>;
}

export async function readExample(file: string): Promise<WorkflowJson> {
	return JSON.parse(await readFile(path.join(examplesDir, file), 'utf8')) as WorkflowJson;
}

/** n8n 2.41's view of a workflow's publication (`GET /rest/workflows/{id}/publication-status`). */
export interface Publication {
	status: 'in_progress' | 'not_published' | 'published' | 'partial' | 'failed';
	liveVersionId: string | null;
	pendingVersionId: string | null;
	triggers: Array<{ nodeId: string; status: string; errorMessage: string | null }>;
}

export interface Scenarios {
	/**
	 * Creates and activates a workflow (an example file or its JSON) and waits until n8n has
	 * published it; returns its id. n8n 2.41 publishes through an outbox: activation, updates and
	 * deactivation return before the trigger nodes' webhooks are (de)registered.
	 */
	deploy(workflow: string | WorkflowJson): Promise<string>;
	/** Updates an active workflow (n8n re-publishes it) and waits until the new version is live. */
	update(id: string, workflow: WorkflowJson): Promise<void>;
	/** Deactivates a workflow and waits until n8n has removed its triggers. */
	deactivate(id: string): Promise<void>;
	/** Activates a workflow again (after `deactivate`) and waits until n8n has published it. */
	activate(id: string): Promise<void>;
	/** The workflow as n8n stores it (with the webhook ids it assigned). */
	getWorkflow(id: string): Promise<WorkflowJson & { id: string }>;
	/**
	 * Waits until the queue has `count` production handlers (registered by Task Triggers on
	 * activation) and n8n serves each of their URLs: an unsigned POST answers 401 instead of 404.
	 */
	liveHandlers(queue: string, count?: number): Promise<Array<{ id: string; url: string; secret: string; events: string[] }>>;
	/** POSTs JSON to a Webhook node's production path once n8n serves it (404 until then). */
	callWebhook(webhookPath: string, body: unknown): Promise<{ status: number; body: Json; ms: number }>;
	/** The finished executions of a workflow (oldest first) once there are at least `count`. */
	finishedExecutions(workflowId: string, count: number, timeoutMs?: number): Promise<N8nExecution[]>;
}

export function scenarios(h: Harness): Scenarios {
	async function getWorkflow(id: string) {
		const res = await h.n8nApi('GET', `/workflows/${id}`);
		if (res.status !== 200) throw new Error(`n8n GET /workflows/${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
		return res.body;
	}

	// The publication status is on the editor's REST API only: log in as the harness's owner.
	const browserId = 'background-tasks-e2e-scenarios';
	let cookie: Promise<string> | undefined;
	const login = async () => {
		const res = await fetch(`${h.n8nUrl}/rest/login`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', 'browser-id': browserId },
			body: JSON.stringify({ emailOrLdapLoginId: OWNER.email, password: OWNER.password }),
		});
		if (!res.ok) throw new Error(`n8n login answered ${res.status}: ${await res.text()}`);
		return res.headers
			.getSetCookie()
			.map((c) => c.split(';')[0])
			.join('; ');
	};
	async function publication(id: string): Promise<Publication> {
		cookie ??= login();
		const res = await fetch(`${h.n8nUrl}/rest/workflows/${id}/publication-status`, { headers: { cookie: await cookie, 'browser-id': browserId } });
		const body = await parseBody(res);
		if (!res.ok) throw new Error(`n8n GET /rest/workflows/${id}/publication-status answered ${res.status}: ${JSON.stringify(body)}`);
		return body.data;
	}
	/** Waits until n8n settled the workflow's publication on `versionId` (null: unpublished). */
	async function settled(id: string, versionId: string | null): Promise<Publication> {
		const state = await eventually(async () => {
			const p = await publication(id);
			if (p.status === 'in_progress' || p.pendingVersionId !== null) return undefined;
			if (versionId === null) return p.status === 'not_published' ? p : undefined;
			if (p.status === 'failed' || p.status === 'partial') return p;
			return p.status === 'published' && p.liveVersionId === versionId ? p : undefined;
		}, 30_000, `n8n to ${versionId === null ? 'unpublish' : `publish version ${versionId} of`} workflow ${id}`);
		if (state.status === 'failed' || state.status === 'partial') {
			throw new Error(`n8n could not publish workflow ${id}: ${JSON.stringify(state.triggers)}`);
		}
		return state;
	}

	return {
		async deploy(workflow) {
			const json = typeof workflow === 'string' ? await readExample(workflow) : workflow;
			const id = await h.createWorkflow(json);
			await h.activate(id);
			await settled(id, (await getWorkflow(id)).activeVersionId);
			return id;
		},
		async update(id, workflow) {
			const res = await h.n8nApi('PUT', `/workflows/${id}`, workflow);
			if (res.status !== 200) throw new Error(`n8n PUT /workflows/${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
			await settled(id, res.body.activeVersionId);
			if (res.body.activeVersionId !== res.body.versionId) throw new Error(`n8n did not re-publish workflow ${id} on update: ${JSON.stringify(res.body)}`);
		},
		async deactivate(id) {
			await h.deactivate(id);
			await settled(id, null);
		},
		async activate(id) {
			await h.activate(id);
			await settled(id, (await getWorkflow(id)).activeVersionId ?? null);
		},
		getWorkflow,
		async liveHandlers(queue, count = 1) {
			const handlers = await eventually(async () => {
				const { body } = await h.engineApi('GET', `/v1/queues/${queue}/handlers`);
				const production = (body?.items ?? []).filter((handler: Json) => handler.mode === 'production');
				return production.length === count ? production : undefined;
			}, 30_000, `${count} production handler(s) of queue ${queue}`);
			for (const handler of handlers) {
				await eventually(async () => {
					const res = await fetch(handler.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
					await res.arrayBuffer();
					// 404: n8n does not serve it yet; 503: it does, but has not saved the trigger's secret yet.
					if (res.status === 404 || res.status === 503) return undefined;
					if (res.status !== 401) throw new Error(`an unsigned POST to ${handler.url} answered ${res.status}, not 401`);
					return true;
				}, 30_000, `n8n to serve the Task Trigger webhook ${handler.url}`);
			}
			return handlers;
		},
		async callWebhook(webhookPath, body) {
			return await eventually(async () => {
				const started = Date.now();
				const res = await fetch(h.webhookUrl(webhookPath), {
					method: 'POST',
					headers: { 'content-type': 'application/json' },
					body: JSON.stringify(body),
				});
				const text = await res.text();
				if (res.status === 404) return undefined;
				return { status: res.status, body: text === '' ? null : JSON.parse(text), ms: Date.now() - started };
			}, 30_000, `the webhook /${webhookPath} to be registered`);
		},
		async finishedExecutions(workflowId, count, timeoutMs = 30_000) {
			return await eventually(async () => {
				const list = await h.executions(workflowId, { includeData: true });
				const finished = list.filter((execution) => execution.stoppedAt);
				return finished.length >= count ? finished.reverse() : undefined;
			}, timeoutMs, `${count} finished execution(s) of workflow ${workflowId}`);
		},
	};
}

/** The items a node output in an execution (its first run, first output). */
export function nodeOutput(execution: N8nExecution, nodeName: string): Json[] {
	const runs = execution.data?.resultData?.runData?.[nodeName];
	if (!runs) throw new Error(`execution ${execution.id} has no run of node "${nodeName}"`);
	return (runs[0].data?.main?.[0] ?? []).map((item: Json) => item.json);
}

/** Milliseconds between two ISO instants (b − a). */
export function msBetween(a: string, b: string): number {
	return Date.parse(b) - Date.parse(a);
}
