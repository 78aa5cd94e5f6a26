/**
 * The engine's HTTP API, called with the session's key. Every error comes back in the API's one
 * shape (`{ error: { code, message, details: [{ field, message }] } }`) and is thrown as ApiError.
 */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly field?: string,
	) {
		super(message);
	}
}

export type Query = Record<string, string | number | undefined | null>;

export interface Api {
	get<T>(path: string, query?: Query): Promise<T>;
	post<T>(path: string, body?: unknown): Promise<T>;
	delete<T>(path: string, body?: unknown): Promise<T>;
}

export function withQuery(path: string, query: Query = {}): string {
	const params = new URLSearchParams();
	for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.append(name, String(value));
	const text = params.toString();
	return text ? `${path}?${text}` : path;
}

/** `onUnauthorized` runs on a 401 (the key was revoked or the engine's key set changed). */
export function createApi(key: string, onUnauthorized: () => void): Api {
	const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
		const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: 'application/json' };
		// Routes that take no body refuse one: send a body (and its type) only when there is one.
		if (body !== undefined) headers['content-type'] = 'application/json';
		let response: Response;
		try {
			response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
		} catch {
			throw new ApiError(0, 'unreachable', 'The engine did not answer: is it running?');
		}
		const text = await response.text();
		let json: unknown = null;
		try {
			json = text ? JSON.parse(text) : null;
		} catch {
			// not JSON: described below
		}
		if (response.ok) return json as T;
		if (response.status === 401) onUnauthorized();
		const error = (json as { error?: { code?: string; message?: string; details?: { field?: string }[] } } | null)?.error;
		throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? `${method} ${path} answered ${response.status}`, error?.details?.[0]?.field);
	};
	return {
		get: (path, query) => call('GET', withQuery(path, query)),
		post: (path, body) => call('POST', path, body),
		delete: (path, body) => call('DELETE', path, body),
	};
}
