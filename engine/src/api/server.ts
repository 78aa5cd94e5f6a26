import fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from '../log.js';
import { DomainError } from '../errors.js';
import type { ApiKeyVerifier } from '../auth/apiKeys.js';
import { toFieldProblems, validatorCompiler } from './validation.js';

/** Routes reachable without a key: probes and docs. Exact paths (plus the docs' own assets). */
const PUBLIC_PATHS = new Set(['/v1/health', '/v1/health/ready', '/openapi.json', '/docs']);

export interface ServerOptions {
	log: Logger;
	bodyLimitBytes: number;
	verifier: ApiKeyVerifier;
	metricsAuth: boolean;
	/** Registers the resource plugins (one per resource). */
	routes: (app: FastifyInstance) => Promise<void>;
}

function errorBody(code: string, message: string, details: unknown[] = []) {
	return { error: { code, message, details } };
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
	});
	app.setValidatorCompiler(validatorCompiler);
	// JSON only: without this, a text/plain body would reach validation as a string.
	app.removeContentTypeParser('text/plain');

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

	app.addHook('onRequest', async (request, reply) => {
		const path = request.url.split('?', 1)[0];
		if (PUBLIC_PATHS.has(path) || path.startsWith('/docs/')) return;
		if (path === '/metrics' && !options.metricsAuth) return;
		const header = request.headers.authorization ?? '';
		const match = /^Bearer\s+(\S+)$/i.exec(header);
		if (!match || !(await options.verifier.verify(match[1]))) {
			return reply
				.code(401)
				.header('www-authenticate', 'Bearer')
				.send(errorBody('unauthorized', match ? 'The API key is not valid' : 'Authorization: Bearer <api key> is required'));
		}
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
					.send(errorBody('unsupported_media_type', 'Content-Type must be application/json', [{ field: 'content-type', message: 'content-type must be application/json' }]));
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
		request.log.error({ err: error, method: request.method, url: request.url }, 'unhandled error');
		return reply.code(500).send(errorBody('internal', 'Internal error; the engine log has the details'));
	});

	await options.routes(app);
	return app;
}
