import type { FastifyInstance } from 'fastify';
import type { EngineMetrics } from '../../metrics/engineMetrics.js';

/**
 * `GET /metrics` (Prometheus text; the server asks for an API key unless METRICS_AUTH=false) and
 * the HTTP request metrics of every route. Register it before the other resources: the response
 * hook lives on the root instance (the plugin opts out of encapsulation) so it sees them all.
 */
export function metricsRoutes(metrics: EngineMetrics) {
	const plugin = async (app: FastifyInstance) => {
		app.addHook('onResponse', async (request, reply) => {
			// The route's pattern, never the raw URL: ids in paths must not become label values.
			const route = request.routeOptions.url ?? 'unmatched';
			metrics.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
		});
		app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics (text exposition format)' } }, async (_request, reply) => {
			const text = await metrics.render();
			return reply.header('content-type', metrics.contentType).send(text);
		});
	};
	// What fastify-plugin does: the hook is added to the parent (root) context.
	Object.assign(plugin, { [Symbol.for('skip-override')]: true });
	return plugin;
}
