import type { FastifyInstance, RouteOptions } from 'fastify';
import type { ApiKeyVerifier } from '../auth/apiKeys.js';
import { adminOnlyQueueFields, answersWithSecrets, requiredScope, scopeAllows, secretScope, type Scope } from '../auth/scopes.js';
import { DomainError } from '../errors.js';
import { errorBody } from './protocolErrors.js';
import { ErrorBody } from './schemas/common.js';

declare module 'fastify' {
	interface FastifyRequest {
		/** The scope of the request's API key; null on public routes. */
		apiScope: Scope | null;
	}
}

/** Routes reachable without a key: probes and docs. Exact paths (plus the docs' own assets). */
const PUBLIC_PATHS = new Set(['/v1/health', '/v1/health/ready', '/openapi.json', '/docs']);
/** The dashboard's page and files (api/routes/dashboard.ts), by route: its data needs a key like any other. */
const PUBLIC_ROUTES = new Set(['/ui', '/ui/*']);

export interface AccessOptions {
	verifier: ApiKeyVerifier;
	/** `/metrics` needs a key (scope `read`) unless this is false. */
	metricsAuth: boolean;
}

/**
 * Who may call what (README, "Security"): a bearer key on every route but the public ones (401 without a
 * valid one), the key's scope against the route's (403 `forbidden`, auth/scopes.ts), queue settings
 * on create for `admin` only, and `secret` fields left out of answers the scope may not see. Every
 * protected route's OpenAPI entry documents its scope and the 403. Register before the routes.
 */
export function addAccessControl(app: FastifyInstance, options: AccessOptions): void {
	app.decorateRequest('apiScope', null);

	app.addHook('onRoute', (route) => documentScope(route, options.metricsAuth));

	app.addHook('onRequest', async (request, reply) => {
		const path = request.url.split('?', 1)[0];
		if (PUBLIC_PATHS.has(path) || path.startsWith('/docs/') || PUBLIC_ROUTES.has(request.routeOptions.url ?? '')) return;
		if (path === '/metrics' && !options.metricsAuth) return;
		const header = request.headers.authorization ?? '';
		const match = /^Bearer\s+(\S+)$/i.exec(header);
		const scope = match ? await options.verifier.verify(match[1]) : null;
		if (scope === null) {
			return reply
				.code(401)
				.header('www-authenticate', 'Bearer')
				.send(errorBody('unauthorized', match ? 'The API key is not valid' : 'Authorization: Bearer <api key> is required'));
		}
		request.apiScope = scope;
		const url = request.routeOptions.url;
		if (url === undefined) return; // no such route: the 404 says so
		const need = requiredScope(request.method, url);
		if (!scopeAllows(scope, need)) {
			return reply
				.code(403)
				.send(errorBody('forbidden', `This API key has scope "${scope}"; ${request.method} ${url} needs scope "${need}"`));
		}
	});

	// After validation: a `write` key creates queues with default settings only.
	app.addHook('preHandler', async (request) => {
		const url = request.routeOptions.url;
		if (request.apiScope === null || request.apiScope === 'admin' || url === undefined) return;
		const fields = adminOnlyQueueFields(request.method, url, request.body);
		if (fields.length === 0) return;
		const details = fields.map((field) => ({ field, message: `${field} is a queue setting: only an API key with scope "admin" may set it` }));
		throw new DomainError(403, 'forbidden', `${details[0].message} (this key has scope "${request.apiScope}"; send only "name" to create the queue with default settings)`, details);
	});

	app.addHook('preSerialization', async (request, _reply, payload: unknown) => {
		const url = request.routeOptions.url;
		if (request.apiScope === null || url === undefined || !answersWithSecrets(url)) return payload;
		return scopeAllows(request.apiScope, secretScope(url)) ? payload : withoutSecrets(payload);
	});
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
	return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A queue or handler (or a list of them, under `items`) without its `secret`. */
function withoutSecrets(payload: unknown): unknown {
	if (!isObject(payload)) return payload;
	const omit = (o: Json): Json => Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'secret'));
	const out = omit(payload);
	if (Array.isArray(out.items)) out.items = out.items.map((item: unknown) => (isObject(item) ? omit(item) : item));
	return out;
}

/** The route's scope and its 403 in the OpenAPI document; public routes stay as they are. */
function documentScope(route: RouteOptions, metricsAuth: boolean): void {
	const methods = [route.method].flat();
	if (methods.includes('HEAD') || route.schema === undefined) return;
	if (!route.url.startsWith('/v1/') && !(route.url === '/metrics' && metricsAuth)) return;
	const schema = route.schema as Json & { security?: unknown[]; response?: Json; description?: string };
	if (Array.isArray(schema.security) && schema.security.length === 0) return;
	const need = requiredScope(methods[0], route.url);
	const note =
		`Needs an API key with scope \`${need}\`${need === 'admin' ? '' : need === 'write' ? ' or `admin`' : ' or above'} (403 \`forbidden\` otherwise).` +
		(answersWithSecrets(route.url) ? ` \`secret\` fields are left out unless the key's scope is \`${secretScope(route.url)}\`${secretScope(route.url) === 'admin' ? '' : ' or above'}.` : '') +
		(route.url === '/v1/queues' && methods[0] === 'POST' ? ' With scope `write`, only `name` may be sent (a queue with default settings).' : '');
	if (!schema.description?.includes(note)) schema.description = schema.description ? `${schema.description}\n\n${note}` : note;
	// (A route without response schemas, /metrics, keeps none: one would make Fastify serialise its text answer as JSON.)
	if (schema.response !== undefined) schema.response = { ...schema.response, 403: ErrorBody };
}
