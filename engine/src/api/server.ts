import fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { Logger } from '../log.js';
import { DomainError } from '../errors.js';
import { isConnectionError, isContentionError } from '../db/pool.js';
import type { ApiKeyVerifier } from '../auth/apiKeys.js';
import { addAccessControl } from './access.js';
import { findBrokenQueryEncoding, findUnexpectedBody, findUnstorableText } from './inputScreen.js';
import { strictUtf8JsonParser } from './jsonBody.js';
import { clientErrorHandler, errorBody, frameworkErrors, MAX_PARAM_LENGTH } from './protocolErrors.js';
import { ErrorBody } from './schemas/common.js';
import { createValidatorCompiler, toFieldProblems } from './validation.js';

export interface ServerOptions {
	log: Logger;
	bodyLimitBytes: number;
	/** Deepest nesting of a payload or batch items (PAYLOAD_MAX_DEPTH). */
	payloadMaxDepth: number;
	verifier: ApiKeyVerifier;
	metricsAuth: boolean;
	/** Registers the resource plugins (one per resource). */
	routes: (app: FastifyInstance) => Promise<void>;
}

/**
 * The HTTP shell: JSON in and out, strict validation, bearer auth, one error format, OpenAPI.
 * Resource routes are plugins registered by the caller; this file knows none of them.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
	const app = fastify({
		// Request lines are info-level: the HTTP logger only passes warnings and errors.
		loggerInstance: options.log.child({ component: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
		bodyLimit: options.bodyLimitBytes,
		// Keep-alive connections from 32 concurrent clients should not be cut between requests.
		keepAliveTimeout: 65_000,
		return503OnClosing: true,
		ajv: { customOptions: { removeAdditional: false } },
		routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
		frameworkErrors,
		clientErrorHandler,
	});
	app.setValidatorCompiler(createValidatorCompiler({ payloadMaxDepth: options.payloadMaxDepth }));
	// JSON only: without this, a text/plain body would reach validation as a string.
	app.removeContentTypeParser('text/plain');
	strictUtf8JsonParser(app);

	app.addHook('onRoute', (route) => {
		if (!route.url.startsWith('/v1/') || route.schema === undefined) return;
		const schema = route.schema as Record<string, unknown> & { security?: unknown[]; response?: Record<string, unknown> };
		// Unknown query parameters are refused as unknown body fields are (probes excepted: a load
		// balancer's cache-buster must not fail a health check).
		if (schema.querystring === undefined && !(Array.isArray(schema.security) && schema.security.length === 0)) {
			schema.querystring = Type.Object({}, { additionalProperties: false });
		}
		// Every route with a path parameter can answer 414; say so in its document.
		if (route.url.includes(':') && schema.response !== undefined) schema.response = { ...schema.response, 414: ErrorBody };
	});

	await app.register(swagger, {
		openapi: {
			openapi: '3.0.3',
			info: {
				title: 'Background Tasks engine API',
				version: '1',
				description:
					'Durable background tasks for n8n: queues, signed HTTP delivery with retries, schedules, batches and health.',
			},
			components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
			security: [{ bearer: [] }],
		},
	});
	await app.register(swaggerUi, { routePrefix: '/docs' });
	app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

	// Bearer keys and their scopes (401, 403), secrets left out for scopes that may not see them.
	addAccessControl(app, { verifier: options.verifier, metricsAuth: options.metricsAuth });

	// Before validation: broken %-encoding in the query, text PostgreSQL cannot store (anywhere in
	// the body, query or path), and a body sent to a route that takes none are refused with the
	// field named; nothing is written.
	app.addHook('preValidation', async (request) => {
		if (request.routeOptions.url === undefined) return; // no route: the 404 says so
		const problems = [
			...findBrokenQueryEncoding(request.url),
			...findUnstorableText(request.params, 'params'),
			...findUnstorableText(request.query, 'querystring'),
			...findUnstorableText(request.body, ''),
			...(request.routeOptions.schema?.body === undefined ? findUnexpectedBody(request.body) : []),
		];
		if (problems.length > 0) throw new DomainError(400, 'invalid_request', problems[0].message, problems);
	});

	app.setNotFoundHandler((request, reply) => {
		reply.code(404).send(errorBody('not_found', `No route ${request.method} ${request.url.split('?', 1)[0]}`));
	});

	app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
		if (error instanceof DomainError) {
			return reply.code(error.status).send(errorBody(error.code, error.message, error.details));
		}
		if (error.validation) {
			const details = toFieldProblems(error.validation as never, error.validationContext ?? 'body');
			const message = details[0]?.message ?? error.message;
			return reply.code(400).send(errorBody('invalid_request', message, details));
		}
		switch (error.code) {
			case 'FST_ERR_CTP_BODY_TOO_LARGE':
				return reply
					.code(413)
					.send(errorBody('payload_too_large', `The request body is larger than the limit of ${options.bodyLimitBytes} bytes`));
			case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
				return reply
					.code(415)
					.send(errorBody('unsupported_media_type', 'content-type must be application/json', [{ field: 'content-type', message: 'content-type must be application/json' }]));
			case 'FST_ERR_CTP_EMPTY_JSON_BODY':
				return reply.code(400).send(errorBody('invalid_request', 'The request body is empty; send a JSON object'));
			case 'FST_ERR_CTP_INVALID_JSON_BODY':
				return reply.code(400).send(errorBody('malformed_json', `The request body is not valid JSON: ${error.message}`));
		}
		if (error instanceof SyntaxError || (error as { type?: string }).type === 'entity.parse.failed') {
			return reply.code(400).send(errorBody('malformed_json', `The request body is not valid JSON: ${error.message}`));
		}
		if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
			return reply.code(error.statusCode).send(errorBody('bad_request', error.message));
		}
		// The database is away (restarting, unreachable): nothing was written; the client may retry.
		if (isConnectionError(error)) {
			request.log.warn({ err: error, method: request.method, url: request.url }, 'database unavailable');
			return reply.code(503).header('retry-after', '5').send(errorBody('database_unavailable', 'The database is not reachable right now; retry shortly'));
		}
		// Too much contention (a hot debounce group, a long lock wait): rolled back, nothing written.
		if (isContentionError(error)) {
			request.log.warn({ err: error, method: request.method, url: request.url }, 'database busy');
			return reply.code(503).header('retry-after', '1').send(errorBody('busy', 'The database is busy with conflicting work; nothing was written; retry shortly'));
		}
		request.log.error({ err: error, method: request.method, url: request.url }, 'unhandled error');
		return reply.code(500).send(errorBody('internal', 'Internal error; the engine log has the details'));
	});

	await options.routes(app);
	return app;
}
