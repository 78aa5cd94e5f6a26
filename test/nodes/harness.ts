// Runs the package's nodes the way n8n does — through n8n-core's WorkflowExecute, HookContext and
// WebhookContext — against a real engine over HTTP. Only what n8n's server would provide around
// them is supplied here: node types, a credentials helper, and the request/response of a webhook.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ExecutionLifecycleHooks, HookContext, LoadOptionsContext, WebhookContext, WorkflowExecute } from 'n8n-core';
import {
	createRunExecutionData,
	ICredentialsHelper,
	isExpression,
	Workflow,
	type ICredentialDataDecryptedObject,
	type ICredentialType,
	type IDataObject,
	type IExecuteData,
	type IHttpRequestOptions,
	type INode,
	type INodeExecutionData,
	type INodeListSearchResult,
	type INodeParameters,
	type INodePropertyOptions,
	type INodeType,
	type INodeTypes,
	type IRun,
	type IWebhookData,
	type IWebhookResponseData,
	type IWorkflowExecuteAdditionalData,
	type WorkflowActivateMode,
	type WorkflowExecuteMode,
} from 'n8n-workflow';

import { BackgroundTasksApi } from '../../credentials/BackgroundTasksApi.credentials';
import { BatchProcess } from '../../nodes/BatchProcess/BatchProcess.node';
import { EnqueueTask } from '../../nodes/EnqueueTask/EnqueueTask.node';
import { QueueHealth } from '../../nodes/QueueHealth/QueueHealth.node';
import { ScheduleTask } from '../../nodes/ScheduleTask/ScheduleTask.node';
import { TaskTrigger } from '../../nodes/TaskTrigger/TaskTrigger.node';

export const PACKAGE_NAME = 'n8n-nodes-background-tasks';
export const TIME_ZONE = 'Europe/Berlin';

const nodeClasses: Record<string, INodeType> = {
	batchProcess: new BatchProcess(),
	enqueueTask: new EnqueueTask(),
	queueHealth: new QueueHealth(),
	scheduleTask: new ScheduleTask(),
	taskTrigger: new TaskTrigger(),
};
export type NodeName = keyof typeof nodeClasses;

/** Node types as n8n's loader would register them: `<package>.<node name>`. */
class PackageNodeTypes implements INodeTypes {
	getByName(type: string): INodeType {
		return this.getByNameAndVersion(type);
	}

	getByNameAndVersion(type: string): INodeType {
		const node = nodeClasses[type.replace(`${PACKAGE_NAME}.`, '')];
		if (node === undefined) throw new Error(`unknown node type ${type}`);
		return node;
	}

	getKnownTypes(): IDataObject {
		return {};
	}
}
const nodeTypes = new PackageNodeTypes();

/**
 * What n8n's CredentialsHelper does for this package: hands out the decrypted credential and
 * applies its generic `authenticate` block, resolving `{{$credentials.…}}` with n8n's expression
 * engine (so a wrong template in the credential would fail here too).
 */
class TestCredentialsHelper extends ICredentialsHelper {
	private readonly types: Record<string, ICredentialType> = { backgroundTasksApi: new BackgroundTasksApi() };

	constructor(private readonly data: ICredentialDataDecryptedObject) {
		super();
	}

	getParentTypes(): string[] {
		return [];
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions,
		workflow: Workflow,
		node: INode,
	): Promise<IHttpRequestOptions> {
		const authenticate = this.types[typeName]?.authenticate;
		if (authenticate === undefined) return requestOptions;
		if (typeof authenticate === 'function') return await authenticate(credentials, requestOptions);
		const resolve = (value: string) =>
			isExpression(value)
				? String(workflow.expression.getSimpleParameterValue(node, value, 'internal', { $credentials: credentials }, undefined, ''))
				: value;
		for (const [target, entries] of Object.entries(authenticate.properties)) {
			const bag = ((requestOptions as unknown as Record<string, IDataObject | undefined>)[target] ??= {});
			for (const [key, value] of Object.entries(entries as Record<string, string>)) bag[resolve(key)] = resolve(value);
		}
		return requestOptions;
	}

	async preAuthentication(): Promise<undefined> {
		return undefined;
	}

	async runPreAuthentication(): Promise<undefined> {
		return undefined;
	}

	async getCredentials(): Promise<never> {
		throw new Error('not used by these nodes');
	}

	async getDecrypted(): Promise<ICredentialDataDecryptedObject> {
		return { ...this.data };
	}

	async updateCredentials(): Promise<void> {}

	async updateCredentialsOauthTokenData(): Promise<void> {}

	getCredentialsProperties(type: string) {
		return this.types[type]?.properties ?? [];
	}

	isCredentialUsableByNode(): boolean {
		return true;
	}
}

export interface EngineCredentials {
	baseUrl: string;
	apiKey: string;
}

export interface WebhookUrls {
	webhookBaseUrl: string;
	webhookTestBaseUrl: string;
}

function additionalData(
	credentials: EngineCredentials,
	urls: WebhookUrls = { webhookBaseUrl: 'http://127.0.0.1:1/webhook', webhookTestBaseUrl: 'http://127.0.0.1:1/webhook-test' },
	extra: Partial<IWorkflowExecuteAdditionalData> = {},
): IWorkflowExecuteAdditionalData {
	return {
		credentialsHelper: new TestCredentialsHelper({ ...credentials }),
		hooks: new ExecutionLifecycleHooks('manual', 'test-execution', { id: 'wf-nodes-test' } as never),
		executionId: 'test-execution',
		restApiUrl: 'http://127.0.0.1:1/rest',
		instanceBaseUrl: 'http://127.0.0.1:1/',
		formBaseUrl: 'http://127.0.0.1:1/form',
		formWaitingBaseUrl: 'http://127.0.0.1:1/form-waiting',
		formTestBaseUrl: 'http://127.0.0.1:1/form-test',
		webhookWaitingBaseUrl: 'http://127.0.0.1:1/webhook-waiting',
		mcpBaseUrl: 'http://127.0.0.1:1/mcp',
		mcpTestBaseUrl: 'http://127.0.0.1:1/mcp-test',
		...urls,
		variables: {},
		currentNodeExecutionIndex: 0,
		logAiEvent: () => {},
		executeWorkflow: async () => {
			throw new Error('not used by these nodes');
		},
		getRunExecutionData: async () => undefined,
		getRuntimeCredential: async () => undefined,
		startRunnerTask: async () => {
			throw new Error('not used by these nodes');
		},
		...extra,
	} as IWorkflowExecuteAdditionalData;
}

function nodeOf(type: NodeName, parameters: INodeParameters, settings: Partial<INode> = {}): INode {
	return {
		id: `node-${type}`,
		name: 'Node Under Test',
		type: `${PACKAGE_NAME}.${type}`,
		typeVersion: 1,
		position: [0, 0],
		parameters,
		credentials: { backgroundTasksApi: { id: 'cred-1', name: 'Background Tasks account' } },
		...settings,
	};
}

function workflowOf(node: INode, staticData: IDataObject = {}): Workflow {
	return new Workflow({
		id: 'wf-nodes-test',
		name: 'nodes test',
		nodes: [node],
		connections: {},
		active: false,
		nodeTypes,
		staticData,
		settings: { timezone: TIME_ZONE },
	});
}

export interface RunOptions {
	credentials: EngineCredentials;
	/** Input items of the node (default: one empty item). */
	items?: INodeExecutionData[];
	/** The node's "On Error" setting. */
	onError?: INode['onError'];
	/** The node's version (`typeVersion`), 1 unless given. */
	typeVersion?: number;
}

export interface RunResult {
	/** Items of each output (the second is the error output when `onError` asks for it). */
	outputs: INodeExecutionData[][];
	/**
	 * The node's error when the execution failed, as n8n records it in the run data: a copy of the
	 * thrown error's fields, so its class shows in `name` (`NodeApiError`, `NodeOperationError`).
	 */
	error?: Error & { description?: string; context?: IDataObject; httpCode?: string | null };
	run: IRun;
}

/** Executes a one-node workflow whose node receives `items`, as a manual execution does. */
export async function runNode(type: NodeName, parameters: INodeParameters, options: RunOptions): Promise<RunResult> {
	const node = nodeOf(type, parameters, {
		...(options.onError ? { onError: options.onError } : {}),
		...(options.typeVersion === undefined ? {} : { typeVersion: options.typeVersion }),
	});
	const workflow = workflowOf(node);
	const items = options.items ?? [{ json: {} }];
	const stack: IExecuteData[] = [{ node, data: { main: [items] }, source: null }];
	const runExecutionData = createRunExecutionData({ executionData: { nodeExecutionStack: stack } });
	const execute = new WorkflowExecute(additionalData(options.credentials), 'manual', runExecutionData);
	const run = await execute.processRunExecutionData(workflow);
	const task = run.data.resultData.runData[node.name]?.[0];
	return {
		outputs: (task?.data?.main ?? []).map((items) => items ?? []),
		error: (task?.error ?? run.data.resultData.error) as RunResult['error'],
		run,
	};
}

export interface AfterTriggerOptions extends RunOptions {
	/** The Task Trigger's name in the workflow (default "Task Trigger"). */
	triggerName?: string;
}

/**
 * Executes the node as the step after a Task Trigger that output `triggerItem` in this execution,
 * as n8n runs the rest of a workflow a delivery started: the two nodes connected, the trigger's
 * run in the run data, its item (or `options.items`, paired with it) as the node's input.
 */
export async function runAfterTrigger(
	type: NodeName,
	parameters: INodeParameters,
	triggerItem: IDataObject,
	options: AfterTriggerOptions,
): Promise<RunResult> {
	const triggerName = options.triggerName ?? 'Task Trigger';
	const trigger: INode = { ...nodeOf('taskTrigger', {}), id: 'node-trigger', name: triggerName };
	const node = nodeOf(type, parameters, {
		...(options.onError ? { onError: options.onError } : {}),
		...(options.typeVersion === undefined ? {} : { typeVersion: options.typeVersion }),
	});
	const workflow = new Workflow({
		id: 'wf-nodes-test',
		name: 'nodes test',
		nodes: [trigger, node],
		connections: { [triggerName]: { main: [[{ node: node.name, type: 'main', index: 0 }]] } },
		active: false,
		nodeTypes,
		staticData: {},
		settings: { timezone: TIME_ZONE },
	});
	const items = options.items ?? [{ json: triggerItem, pairedItem: { item: 0 } }];
	const runExecutionData = createRunExecutionData({
		resultData: {
			runData: {
				[triggerName]: [{ startTime: Date.now(), executionTime: 0, executionIndex: 0, source: [], data: { main: [[{ json: triggerItem }]] } }],
			},
		},
		executionData: { nodeExecutionStack: [{ node, data: { main: [items] }, source: { main: [{ previousNode: triggerName }] } }] },
	});
	const execute = new WorkflowExecute(additionalData(options.credentials), 'webhook', runExecutionData);
	const run = await execute.processRunExecutionData(workflow);
	const task = run.data.resultData.runData[node.name]?.[0];
	return {
		outputs: (task?.data?.main ?? []).map((items) => items ?? []),
		error: (task?.error ?? run.data.resultData.error) as RunResult['error'],
		run,
	};
}

/**
 * Runs one of a node's `listSearch` methods (the "From List" mode of a resource locator) as the
 * editor does, with a page token for the next page.
 */
export async function listSearch(
	type: NodeName,
	method: string,
	credentials: EngineCredentials,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const node = nodeOf(type, {});
	const context = new LoadOptionsContext(workflowOf(node), node, additionalData(credentials), 'parameters.queue');
	const search = nodeClasses[type]!.methods!.listSearch![method]!;
	return await search.call(context, filter, paginationToken);
}

/** Runs one of a node's `loadOptions` methods (an options list loaded from the engine or the runtime) as the editor does. */
export async function loadOptions(type: NodeName, method: string, credentials: EngineCredentials): Promise<INodePropertyOptions[]> {
	const node = nodeOf(type, {});
	const context = new LoadOptionsContext(workflowOf(node), node, additionalData(credentials), 'parameters.timezone');
	return await nodeClasses[type]!.methods!.loadOptions![method]!.call(context);
}

/** What n8n's editor passes as the default of an expression it cannot resolve yet. */
const PLACEHOLDER_FILLED_AT_EXECUTION_TIME = '[filled at execution time]';

/**
 * A node's canvas subtitle as n8n's editor computes it (`getNodeSubtitle` of editor-ui): the
 * description's `subtitle` resolved with `workflow.expression.getSimpleParameterValue` on the node
 * (its parameters completed with defaults, as the Workflow constructor does), `undefined` when that
 * throws. `subtitle` replaces the description's own, to show what another expression would give.
 */
export function canvasSubtitle(
	type: NodeName,
	parameters: INodeParameters,
	options: { typeVersion?: number; subtitle?: string } = {},
): unknown {
	const node = nodeOf(type, parameters, options.typeVersion === undefined ? {} : { typeVersion: options.typeVersion });
	const workflow = workflowOf(node);
	const subtitle = options.subtitle ?? nodeClasses[type]!.description.subtitle;
	try {
		return workflow.expression.getSimpleParameterValue(node, subtitle, 'internal', {}, undefined, PLACEHOLDER_FILLED_AT_EXECUTION_TIME);
	} catch {
		return undefined;
	}
}

/** The JSON of the first output's items. */
export function jsonOf(result: RunResult): IDataObject[] {
	if (result.error) throw result.error;
	return (result.outputs[0] ?? []).map((item) => item.json);
}

// ---- Task Trigger ---------------------------------------------------------------------------

export interface TriggerHarness {
	readonly node: INode;
	/** The node's static data (`getWorkflowStaticData('node')`), kept between calls. */
	readonly staticData: IDataObject;
	/** Runs `webhookMethods.default.<method>` as n8n does when (de)activating or listening. */
	hook(method: 'checkExists' | 'create' | 'delete', mode: 'production' | 'test'): Promise<boolean | undefined>;
	/** Runs `webhook()` for one received HTTP request. */
	webhook(request: IncomingMessage & { rawBody: Buffer; body: unknown }, response: ServerResponse, mode: 'production' | 'test'): Promise<IWebhookResponseData>;
}

/**
 * A Task Trigger node inside a workflow whose static data persists between calls, as n8n keeps
 * it for an active workflow. Production and test use n8n's two webhook base URLs.
 */
export function triggerHarness(parameters: INodeParameters, credentials: EngineCredentials, urls: WebhookUrls): TriggerHarness {
	const node = nodeOf('taskTrigger', parameters, { webhookId: 'a1b2c3d4-0000-4000-8000-00000000beef' });
	const workflow = workflowOf(node);
	const nodeType = nodeClasses.taskTrigger;
	const webhookDescription = nodeType.description.webhooks![0]!;

	const webhookData = (mode: 'production' | 'test', extra: Partial<IWorkflowExecuteAdditionalData> = {}): IWebhookData => ({
		httpMethod: 'POST',
		node: node.name,
		path: 'webhook',
		webhookDescription,
		workflowId: workflow.id,
		workflowExecuteAdditionalData: additionalData(credentials, urls, extra),
		webhookId: node.webhookId,
		isTest: mode === 'test',
	});
	// n8n runs checkExists/create of test webhooks in 'manual' mode and of production ones in
	// 'trigger' mode; `delete` always in 'internal' mode with activation 'update' (n8n's
	// WebhookService.deleteWebhook callers: TestWebhooks.deactivateWebhooks, ActiveWorkflowManager).
	const executionMode = (method: string, mode: 'production' | 'test'): WorkflowExecuteMode =>
		method === 'delete' ? 'internal' : mode === 'test' ? 'manual' : 'trigger';
	const activation = (method: string, mode: 'production' | 'test'): WorkflowActivateMode =>
		method === 'delete' ? 'update' : mode === 'test' ? 'manual' : 'activate';

	return {
		node,
		get staticData() {
			return workflow.getStaticData('node', node);
		},
		async hook(method, mode) {
			const data = webhookData(mode);
			const context = new HookContext(workflow, node, data.workflowExecuteAdditionalData, executionMode(method, mode), activation(method, mode), data);
			return await nodeType.webhookMethods!.default![method]!.call(context);
		},
		async webhook(request, response, mode) {
			const data = webhookData(mode, { httpRequest: request as never, httpResponse: response as never });
			const context = new WebhookContext(
				workflow,
				node,
				data.workflowExecuteAdditionalData,
				mode === 'test' ? 'manual' : 'webhook',
				data,
				[],
				null,
			);
			return await nodeType.webhook!.call(context);
		},
	};
}
