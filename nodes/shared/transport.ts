import type {
	IDataObject,
	IExecuteFunctions,
	IHookFunctions,
	IHttpRequestMethods,
	IHttpRequestOptions,
	ILoadOptionsFunctions,
	INode,
	IWebhookFunctions,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

/**
 * The one way the Background Tasks nodes talk to the engine: every request goes through
 * `httpRequestWithAuthentication` with the `backgroundTasksApi` credential (base URL + bearer key),
 * and every engine error comes back as a `NodeApiError` that shows the engine's own words.
 */

export const CREDENTIAL_NAME = 'backgroundTasksApi';

/** Every context a node of this package calls the engine from. */
export type EngineContext = IExecuteFunctions | IHookFunctions | ILoadOptionsFunctions | IWebhookFunctions;

export interface EngineRequest {
	method: IHttpRequestMethods;
	/** Path below the base URL, starting with `/v1/`; callers encode path segments. */
	path: string;
	body?: IDataObject | IDataObject[];
	qs?: IDataObject;
	/** The input item the request is made for, recorded on the error. */
	itemIndex?: number;
}

/** What the engine answers, with the status (201 vs 200 tells "created" from "already there"). */
export interface EngineResponse<T> {
	statusCode: number;
	body: T;
}

/** One wrong field, as the engine reports it. */
export interface EngineFieldProblem {
	field: string;
	message: string;
}

/** The engine's error body: `{ error: { code, message, details } }`. */
export interface EngineErrorBody {
	error: { code: string; message: string; details?: EngineFieldProblem[] };
}

/** Calls the engine and returns the parsed JSON body (`undefined` for 204). */
export async function engineRequest<T = IDataObject>(context: EngineContext, request: EngineRequest): Promise<T> {
	return (await engineRequestWithStatus<T>(context, request)).body;
}

/** Calls the engine and returns status and body. */
export async function engineRequestWithStatus<T = IDataObject>(
	context: EngineContext,
	request: EngineRequest,
): Promise<EngineResponse<T>> {
	const credentials = await context.getCredentials(CREDENTIAL_NAME);
	const baseUrl = String(credentials.baseUrl ?? '').replace(/\/+$/, '');
	const options: IHttpRequestOptions = {
		method: request.method,
		url: `${baseUrl}${request.path}`,
		json: true,
		returnFullResponse: true,
		// The engine answers 3xx only by mistake; following a redirect could send the key elsewhere.
		disableFollowRedirect: true,
	};
	if (request.body !== undefined) options.body = request.body;
	if (isEmptyObject(request.body)) {
		// n8n's request helper drops an empty object body and sends none; a report with nothing to
		// say (Complete without a result) is still a JSON object, so it goes as the text `{}`.
		options.body = '{}';
		options.headers = { 'content-type': 'application/json' };
	}
	if (request.qs !== undefined) options.qs = withoutEmpty(request.qs);

	try {
		const response = (await context.helpers.httpRequestWithAuthentication.call(context, CREDENTIAL_NAME, options)) as {
			statusCode: number;
			body: T;
		};
		return { statusCode: response.statusCode, body: response.body === '' ? (undefined as T) : response.body };
	} catch (error) {
		throw engineApiError(context.getNode(), error, request.itemIndex);
	}
}

function isEmptyObject(body: EngineRequest['body']): boolean {
	return typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0;
}

/** Drops `undefined` and empty-string query values, so optional filters are simply left out. */
function withoutEmpty(qs: IDataObject): IDataObject {
	return Object.fromEntries(Object.entries(qs).filter(([, value]) => value !== undefined && value !== ''));
}

/** The HTTP status of a failed request, wherever n8n's request helper put it. */
export function httpStatusOf(error: unknown): number | undefined {
	const candidate = error as {
		httpCode?: string | null;
		cause?: { response?: { status?: number } };
		response?: { status?: number };
	};
	const raw = candidate?.httpCode ?? candidate?.cause?.response?.status ?? candidate?.response?.status;
	const status = Number(raw);
	return Number.isInteger(status) && status > 0 ? status : undefined;
}

/** The engine's `{ error: … }` body of a failed request, if the engine answered at all. */
export function engineErrorBodyOf(error: unknown): EngineErrorBody | undefined {
	const candidate = error as {
		context?: { data?: unknown };
		cause?: { response?: { data?: unknown } };
		response?: { data?: unknown };
	};
	for (const data of [candidate?.context?.data, candidate?.cause?.response?.data, candidate?.response?.data]) {
		if (isEngineErrorBody(data)) return data;
	}
	return undefined;
}

function isEngineErrorBody(value: unknown): value is EngineErrorBody {
	const inner = (value as { error?: { message?: unknown } } | null)?.error;
	return typeof inner === 'object' && inner !== null && typeof inner.message === 'string';
}

/**
 * A `NodeApiError` whose message is the engine's message followed by any field problems it does not
 * already state (`tasks[3].delaySeconds must be >= 0`), so the n8n error panel tells the user what
 * to fix instead of n8n's generic "Bad request - please check your parameters".
 */
export function engineApiError(node: INode, error: unknown, itemIndex?: number): NodeApiError {
	const status = httpStatusOf(error);
	const body = engineErrorBodyOf(error);
	if (body === undefined) {
		// No engine answer (connection refused, timeout, a proxy's HTML page): n8n's wording, plus
		// what to check when the engine could not be reached at all.
		const unreachable = unreachableCodeOf(error);
		// n8n's request helper already threw a NodeApiError, and wrapping one hands back that same
		// error: so the hint is set on it rather than passed as an option.
		const wrapped = new NodeApiError(node, error as JsonObject, { itemIndex });
		const hint = unreachable === undefined ? undefined : unreachableHint(unreachable);
		if (hint !== undefined && !(wrapped.description ?? '').includes(hint)) {
			wrapped.description = wrapped.description ? `${wrapped.description}\n${hint}` : hint;
		}
		if (itemIndex !== undefined) wrapped.context.itemIndex = itemIndex;
		return wrapped;
	}
	const { code, message, details = [] } = body.error;
	const unstated = details.filter((d) => !message.toLowerCase().includes(d.message.toLowerCase()));
	const fullMessage = unstated.length === 0 ? message : `${message} (${unstated.map((d) => d.message).join('; ')})`;
	const apiError = new NodeApiError(node, body as unknown as JsonObject, {
		message: fullMessage,
		description: describeProblems(code, status, details),
		httpCode: status === undefined ? undefined : String(status),
		itemIndex,
	});
	apiError.context.data = body as unknown as IDataObject;
	return apiError;
}

function describeProblems(code: string, status: number | undefined, details: EngineFieldProblem[]): string {
	const lines = details.map((d) => `${d.field}: ${d.message}`);
	const advice = status === undefined ? undefined : STATUS_ADVICE[status];
	if (advice !== undefined) lines.push(advice);
	lines.push(`Engine error code: ${code}${status === undefined ? '' : ` (HTTP ${status})`}`);
	return lines.join('\n');
}

/** What to check for the statuses that are about the credential, not about the node's fields. */
export const STATUS_ADVICE: Readonly<Record<number, string>> = {
	401: 'The engine does not know this API key. Check the key in the Background Tasks API credential: it must be one of the keys in the engine\'s API_KEYS (or API_KEYS_FILE), without a "Bearer " prefix, and not removed since the engine last started.',
	403: 'The API key is valid, but its scope does not allow this. Scopes: "read" may only read (every GET: tasks, health, dead letters); "write" may also enqueue, cancel and retry tasks, manage schedules, batches, dead letters and handlers (the Task Trigger), and create queues with default settings; "admin" may also change queue settings and see queue secrets. Give n8n a "write" key (API_KEYS=yourkey:write), or an "admin" key where a queue\'s settings are changed.',
};

/** Network error codes that mean the engine could not be reached at all. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function unreachableCodeOf(error: unknown): string | undefined {
	// n8n's NodeApiError keeps the network code as its `httpCode` ("ECONNREFUSED").
	const candidate = error as { httpCode?: unknown; code?: unknown; cause?: { code?: unknown }; message?: unknown };
	for (const code of [candidate?.httpCode, candidate?.code, candidate?.cause?.code]) {
		if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
	}
	const inMessage = typeof candidate?.message === 'string' ? /\b(E[A-Z_]+)\b/.exec(candidate.message)?.[1] : undefined;
	return inMessage !== undefined && UNREACHABLE_CODES.has(inMessage) ? inMessage : undefined;
}

/** What to check when no engine answered (the credential's Base URL description says the same). */
export function unreachableHint(code: string): string {
	return `The Background Tasks engine could not be reached (${code}). Check that the engine is running (task-engine start) and that the credential's Base URL (default http://127.0.0.1:5690, without /v1) is the address n8n can reach it at: from inside Docker, 127.0.0.1 is the container itself.`;
}

/** True when a failed engine call answered with this status (e.g. 404 while checking a handler). */
export function hasStatus(error: unknown, status: number): boolean {
	return httpStatusOf(error) === status;
}

/** True when a failed engine call answered with this engine error code (e.g. `queue_exists`). */
export function hasEngineCode(error: unknown, code: string): boolean {
	return engineErrorBodyOf(error)?.error.code === code;
}
