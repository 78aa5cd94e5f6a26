import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

export interface Readiness {
	/** Database reachable and every migration applied. */
	check(): Promise<{ ready: boolean; database: boolean; migrations: boolean }>;
}

const Liveness = Type.Object({ status: Type.Literal('ok') });
const ReadinessBody = Type.Object({
	status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
	database: Type.Boolean(),
	migrations: Type.Boolean(),
});

/** Liveness and readiness probes: no key needed, cheap, never cached. */
export function healthRoutes(readiness: Readiness): FastifyPluginAsyncTypebox {
	return async (app) => {
		app.get(
			'/v1/health',
			{ schema: { tags: ['health'], summary: 'Liveness', security: [], response: { 200: Liveness } } },
			async () => ({ status: 'ok' as const }),
		);
		app.get(
			'/v1/health/ready',
			{
				schema: {
					tags: ['health'],
					summary: 'Readiness: database reachable and migrated',
					security: [],
					response: { 200: ReadinessBody, 503: ReadinessBody },
				},
			},
			async (_request, reply) => {
				const r = await readiness.check();
				return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', database: r.database, migrations: r.migrations });
			},
		);
	};
}
