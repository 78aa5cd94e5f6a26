import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { CONFIRM_HEADER, isConfirmed } from './confirmation.js';
import { parseRetryAfter } from './retryPolicy.js';
import { TargetPolicy, TargetRefusedError } from './targetPolicy.js';

/** One delivery attempt: a POST of `body` (already signed into `headers`) to `url`. */
export interface DeliveryRequest {
	url: string;
	/** Sent byte for byte as this string's UTF-8: it is what the signature covers. */
	body: string;
	headers: Record<string, string>;
	/** Covers the whole exchange: connect, request, response headers and body. */
	timeoutMs: number;
	/**
	 * For a handler registered with `confirm`: the marker (confirmation.ts) a 2xx must carry in
	 * `x-task-confirm` to complete the task; without it a 2xx is retried as `unconfirmed`.
	 */
	confirmation?: string;
}

/**
 * Why an attempt failed without a usable HTTP status (or, for `no_retry`/`redirect`/`unconfirmed`,
 * despite one). `unconfirmed`: a 2xx without the confirmation marker from a handler that must send
 * it (n8n booting, a proxy) — retried like a 5xx. `target_refused`: the target policy
 * (TARGET_ALLOW, the always-refused addresses) refused the URL's host or its DNS answer; nothing
 * was sent, and the task fails at once (a retry would be refused again). `reported`: the handler
 * reported the failure itself (`POST /v1/tasks/{id}/attempts/{n}/fail`).
 */
export type ErrorClass =
	| 'timeout' | 'connection' | 'dns' | 'tls' | 'protocol' | 'redirect' | 'no_retry' | 'aborted' | 'unconfirmed' | 'target_refused'
	| 'reported';

/**
 * How an attempt ended (docs/delivery-contract.md): `delivered` completes the task, `accepted` (a 202)
 * leaves the attempt open until the handler reports on it (docs/async-completion.md), `retry` schedules another
 * attempt (honouring `retryAfterSeconds`), `failed` dead-letters it at once. `result` is the body
 * parsed as JSON (whatever its content-type) when it parses and fits `resultLimitBytes`, else null;
 * `responseSnippet` is the start of the body as text, null when there was none.
 */
export type DeliveryOutcome =
	| { kind: 'delivered'; statusCode?: number; durationMs: number; result: unknown; responseSnippet: string | null }
	| { kind: 'accepted'; statusCode: 202; durationMs: number; responseSnippet: string | null }
	| {
			kind: 'retry';
			statusCode?: number;
			errorClass?: ErrorClass;
			error: string;
			durationMs: number;
			retryAfterSeconds?: number;
			responseSnippet: string | null;
			/** A 503 with `x-task-handler-starting: true`: the handler cannot work yet (a Task Trigger being activated). */
			handlerStarting?: boolean;
	  }
	| { kind: 'failed'; statusCode?: number; errorClass?: ErrorClass; error: string; durationMs: number; responseSnippet: string | null };

/** Sends delivery attempts over pooled keep-alive connections. */
export interface DeliveryClient {
	/** Never throws: every result, network errors and aborts included, is an outcome. */
	send(req: DeliveryRequest, signal?: AbortSignal): Promise<DeliveryOutcome>;
	/** Closes pooled connections. */
	close(): void;
}

/** Options of {@link createDeliveryClient}. */
export interface DeliveryClientOptions {
	/** Concurrent connections per host and protocol; 256 by default. */
	maxSockets?: number;
	/** Largest response body kept as the task's result; 16 KiB by default. */
	resultLimitBytes?: number;
	/** Bytes of the response body kept as the attempt's snippet; 16 KiB by default. */
	snippetLimitBytes?: number;
	/** Clock for HTTP-date Retry-After values. */
	now?: () => Date;
	/** Where deliveries may go; by default anywhere but the always-refused addresses and names. */
	targetPolicy?: TargetPolicy;
	/** Resolves host names (dns.lookup by default); its answers pass the target policy before any connection. */
	resolve?: LookupFunction;
}

/** Sent with a 503 by a handler that is registered but cannot work yet (the Task Trigger before n8n saved its secret). */
export const HANDLER_STARTING_HEADER = 'x-task-handler-starting';

// 404 is retried because n8n answers it while a workflow is inactive or restarting (docs/delivery-contract.md).
const RETRY_STATUSES = new Set([404, 408, 410, 425, 429]);

export function createDeliveryClient(opts: DeliveryClientOptions = {}): DeliveryClient {
	const { maxSockets = 256, resultLimitBytes = 16384, snippetLimitBytes = 16384 } = opts;
	const now = opts.now ?? (() => new Date());
	const policy = opts.targetPolicy ?? TargetPolicy.unrestricted;
	const lookup = policy.lookup(opts.resolve);
	const httpAgent = new http.Agent({ keepAlive: true, maxSockets });
	const httpsAgent = new https.Agent({ keepAlive: true, maxSockets });

	async function send(req: DeliveryRequest, signal?: AbortSignal): Promise<DeliveryOutcome> {
		const started = performance.now();
		const elapsed = () => Math.round(performance.now() - started);
		// The timeout covers the whole exchange, response body included; it and the caller's abort
		// destroy whichever of the request and the response is under way. (Destroying it ourselves
		// rather than handing http.request a signal spares each attempt a controller and the
		// listeners Node's streams attach to a signal: at thousands of deliveries a second, that
		// garbage was a good part of the engine's collection time.)
		const exchange = new Exchange();
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			exchange.stop(new Error(`timed out after ${req.timeoutMs} ms`));
		}, req.timeoutMs);
		const onCallerAbort = () => exchange.stop(new Error('delivery aborted'));
		signal?.addEventListener('abort', onCallerAbort, { once: true });
		try {
			if (signal?.aborted) throw new Error('aborted before sending');
			const target = requestTarget(req.url);
			// A literal address never reaches the lookup below: it is checked here, before connecting.
			const refusal = policy.refusalForHost(target.hostname);
			if (refusal !== null) throw new TargetRefusedError(refusal);
			const response = await post(req, target, exchange, { httpAgent, httpsAgent, lookup });
			const limit = Math.max(resultLimitBytes, snippetLimitBytes);
			const { bytes, complete } = await readBounded(response, limit, exchange);
			const result = complete && bytes.length <= resultLimitBytes ? parseJson(bytes) : null;
			return classifyResponse(response, elapsed(), result, snippetOf(bytes, snippetLimitBytes), now(), req.confirmation);
		} catch (err) {
			exchange.stop(err instanceof Error ? err : new Error(String(err)));
			// Which signal fired tells our own aborts apart from the errors they surface as.
			const failure = signal?.aborted
				? { errorClass: 'aborted' as const, error: 'delivery aborted' }
				: timedOut
					? { errorClass: 'timeout' as const, error: `timed out after ${req.timeoutMs} ms` }
					: describeFailure(err, req);
			// A refused target stays refused: no retry.
			if (failure.errorClass === 'target_refused') return { kind: 'failed', ...failure, durationMs: elapsed(), responseSnippet: null };
			return { kind: 'retry', ...failure, durationMs: elapsed(), responseSnippet: null };
		} finally {
			clearTimeout(timer);
			signal?.removeEventListener('abort', onCallerAbort);
		}
	}

	return {
		send,
		close() {
			httpAgent.destroy();
			httpsAgent.destroy();
		},
	};
}

/**
 * The part of an attempt under way — its request, then its response — so that a timeout or an
 * abort can destroy it. Stopped once, it destroys whatever is handed to it afterwards too.
 */
class Exchange {
	private current: { destroy(error?: Error): unknown } | null = null;
	private stopped: Error | null = null;

	/** The request or response now under way. */
	now(part: { destroy(error?: Error): unknown }): void {
		this.current = part;
		if (this.stopped) part.destroy(this.stopped);
	}

	stop(why: Error): void {
		if (this.stopped) return;
		this.stopped = why;
		this.current?.destroy(why);
	}
}

/** Where a URL's requests go, as http.request takes it. */
interface RequestTarget {
	secure: boolean;
	hostname: string;
	port: string;
	path: string;
	/** `user:password` from the URL, sent as Basic authorization (as Node does for a URL it is given). */
	auth?: string;
}

/** Parsed URLs: a queue's deliveries go to a handful of handlers, so each URL is parsed once. */
const targets = new Map<string, RequestTarget>();
const TARGETS_KEPT = 1024;

function requestTarget(url: string): RequestTarget {
	let target = targets.get(url);
	if (target === undefined) {
		const parsed = new URL(url);
		if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`unsupported protocol ${parsed.protocol}`);
		target = {
			secure: parsed.protocol === 'https:',
			// http.request wants an IPv6 literal without its brackets.
			hostname: parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname,
			port: parsed.port,
			path: `${parsed.pathname}${parsed.search}`,
			...(parsed.username || parsed.password ? { auth: `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}` } : {}),
		};
		if (targets.size >= TARGETS_KEPT) targets.clear();
		targets.set(url, target);
	}
	return target;
}

/**
 * One POST with Node's own HTTP client: redirects are never followed (it does not follow them),
 * and the body goes out as the exact bytes the signature covers. Node's client costs about a third
 * of axios's CPU per request, which is what delivering thousands of tasks a second needs.
 */
function post(
	req: DeliveryRequest,
	target: RequestTarget,
	exchange: Exchange,
	via: { httpAgent: http.Agent; httpsAgent: https.Agent; lookup: LookupFunction },
): Promise<http.IncomingMessage> {
	const body = Buffer.from(req.body, 'utf8');
	return new Promise((resolve, reject) => {
		const request = (target.secure ? https : http).request(
			{
				method: 'POST',
				hostname: target.hostname,
				port: target.port,
				path: target.path,
				auth: target.auth,
				headers: { ...req.headers, 'content-length': String(body.length) },
				agent: target.secure ? via.httpsAgent : via.httpAgent,
				// Every connection resolves through the target policy: a refused DNS answer is never connected to.
				lookup: via.lookup,
			},
			resolve,
		);
		request.on('error', reject);
		exchange.now(request);
		request.end(body);
	});
}

/** The body, up to just past `limit` bytes (`complete`: all of it); the rest is never read. */
function readBounded(response: http.IncomingMessage, limit: number, exchange: Exchange): Promise<{ bytes: Buffer; complete: boolean }> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		const done = () => {
			response.off('data', onData);
			response.off('end', onEnd);
			response.off('close', onClose);
		};
		const onData = (chunk: Buffer) => {
			chunks.push(chunk);
			size += chunk.length;
			if (size <= limit) return;
			done();
			// Destroying the response closes its connection: the rest is never read.
			response.destroy();
			resolve({ bytes: Buffer.concat(chunks), complete: false });
		};
		const onEnd = () => {
			done();
			resolve({ bytes: Buffer.concat(chunks), complete: true });
		};
		// Closed before its end: the connection broke or the exchange was stopped (an 'error' may say why first).
		const onClose = () => {
			done();
			reject(response.errored ?? Object.assign(new Error('the response ended before its body did'), { code: 'ECONNRESET' }));
		};
		// An error is followed by 'close', which rejects; this only keeps it from being unhandled.
		response.on('error', () => {});
		// Its connection may have closed between the response's arrival and now: 'close' is past.
		if (response.destroyed) return onClose();
		response.on('data', onData);
		response.on('end', onEnd);
		response.on('close', onClose);
		exchange.now(response);
	});
}

function parseJson(bytes: Buffer): unknown {
	try {
		return bytes.length === 0 ? null : (JSON.parse(bytes.toString('utf8')) as unknown);
	} catch {
		return null;
	}
}

function snippetOf(bytes: Buffer, limit: number): string | null {
	// StringDecoder holds back a multi-byte character cut at the limit instead of mangling it.
	const text = new StringDecoder('utf8').write(bytes.subarray(0, limit));
	return text.length === 0 ? null : text;
}

function classifyResponse(
	res: http.IncomingMessage,
	durationMs: number,
	result: unknown,
	responseSnippet: string | null,
	now: Date,
	confirmation: string | undefined,
): DeliveryOutcome {
	const statusCode = res.statusCode ?? 0;
	const error = `HTTP ${statusCode} ${res.statusMessage || STATUS_CODES[statusCode] || ''}`.trim();
	const header = (name: string) => {
		const value: unknown = res.headers[name];
		return value == null ? undefined : String(Array.isArray(value) ? value[0] : value);
	};
	const base = { statusCode, error, durationMs, responseSnippet };
	// The handler's explicit "retrying will not help" wins over any status.
	if (header('x-task-no-retry')?.trim().toLowerCase() === 'true') {
		return { kind: 'failed', ...base, errorClass: 'no_retry', error: `${error} (x-task-no-retry)` };
	}
	if (statusCode >= 200 && statusCode < 300) {
		// A handler registered with `confirm` proves the work ran by marking its answer; anything
		// else answering 2xx in its place (n8n while it boots, a proxy) has done nothing: retry.
		if (confirmation !== undefined && !isConfirmed(header(CONFIRM_HEADER), confirmation)) {
			const how = header(CONFIRM_HEADER) === undefined ? 'without' : 'with a wrong';
			return { kind: 'retry', ...base, errorClass: 'unconfirmed', error: `${error} ${how} confirmation (${CONFIRM_HEADER})` };
		}
		// 202: the handler took the work and will report on it (complete, fail, heartbeat) later.
		if (statusCode === 202) return { kind: 'accepted', statusCode, durationMs, responseSnippet };
		return { kind: 'delivered', statusCode, durationMs, result, responseSnippet };
	}
	if (RETRY_STATUSES.has(statusCode) || (statusCode >= 500 && statusCode < 600)) {
		const retryAfterSeconds = parseRetryAfter(header('retry-after'), now);
		const handlerStarting = statusCode === 503 && header(HANDLER_STARTING_HEADER)?.trim().toLowerCase() === 'true';
		return { kind: 'retry', ...base, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }), ...(handlerStarting ? { handlerStarting } : {}) };
	}
	if (statusCode >= 300 && statusCode < 400) {
		const target = header('location') ? ` to ${header('location')}` : '';
		return { kind: 'failed', ...base, errorClass: 'redirect', error: `${error}: redirect${target} not followed` };
	}
	if (statusCode >= 400 && statusCode < 500) return { kind: 'failed', ...base };
	// A final 1xx or a status beyond 599 is no HTTP we understand: retry rather than lose the task.
	return { kind: 'retry', ...base, errorClass: 'protocol', error: `unexpected ${error}` };
}

const ERROR_CODES: Record<string, [ErrorClass, string]> = {
	ETIMEDOUT: ['timeout', ''],
	ENOTFOUND: ['dns', 'DNS lookup failed for'],
	EAI_AGAIN: ['dns', 'DNS lookup temporarily failed for'],
	ECONNREFUSED: ['connection', 'connection refused'],
	ECONNRESET: ['connection', 'connection reset'],
	EPIPE: ['connection', 'broken pipe'],
	EHOSTUNREACH: ['connection', 'host unreachable'],
	ENETUNREACH: ['connection', 'network unreachable'],
};

/** Names a transport error (searching wrapped causes too). */
function describeFailure(err: unknown, req: DeliveryRequest): { errorClass: ErrorClass; error: string } {
	const message = err instanceof Error ? err.message : String(err);
	for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
		if (e instanceof TargetRefusedError) return { errorClass: 'target_refused', error: `target refused: ${e.message}` };
	}
	const codes: string[] = [];
	for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
		const code = (e as { code?: unknown }).code;
		if (typeof code === 'string') codes.push(code);
	}
	const known = codes.map((code) => ERROR_CODES[code]).find((entry) => entry !== undefined);
	if (known?.[0] === 'timeout') return { errorClass: 'timeout', error: `timed out after ${req.timeoutMs} ms` };
	if (known?.[0] === 'dns') {
		return { errorClass: 'dns', error: `${known[1]} ${URL.parse(req.url)?.hostname ?? req.url}` };
	}
	if (/socket hang up/i.test(message)) return { errorClass: 'connection', error: 'socket hang up' };
	if (known) return { errorClass: known[0], error: known[1] };
	if (codes.some((code) => code === 'EPROTO' || /CERT|SSL|TLS|HOSTNAME_MISMATCH/.test(code))) {
		return { errorClass: 'tls', error: `TLS error: ${message}`.slice(0, 200) };
	}
	return { errorClass: 'protocol', error: message.slice(0, 200) || 'unknown delivery error' };
}
