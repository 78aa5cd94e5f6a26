import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/pool.js';
import { readQueueHistory } from '../../health/queueHistory.js';
import { ErrorBody, QueueName } from '../schemas/common.js';

const HistoryQuery = Type.Object(
	{ minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, default: 60, description: 'How many minutes back, the current one included (1–1440)' })) },
	{ additionalProperties: false },
);

const HistoryBody = Type.Object({
	queue: Type.String(),
	minutes: Type.Integer(),
	points: Type.Array(
		Type.Object({
			at: Type.String({ description: "The minute's start (ISO 8601, UTC)" }),
			completed: Type.Integer({ description: 'Attempts that delivered' }),
			failed: Type.Integer({ description: 'Attempts after which the task became a dead letter' }),
			retried: Type.Integer({ description: 'Attempts that did not deliver, the task to be tried again' }),
			latenessMsP50: Type.Union([Type.Integer(), Type.Null()], { description: 'Attempt start minus due time, median; null when no attempt started' }),
			latenessMsP95: Type.Union([Type.Integer(), Type.Null()], { description: 'The same, 95th percentile' }),
		}),
		{ description: 'One point per minute, oldest first, zeros where nothing started' },
	),
});

/** `GET /v1/queues/{name}/history`: a queue's attempts per minute, for charts. */
export function queueHistoryRoutes(db: Queryable): FastifyPluginAsyncTypebox {
	return async (app) => {
		app.get(
			'/v1/queues/:name/history',
			{
				schema: {
					tags: ['health'],
					summary: "A queue's attempts per minute (completed, failed, retried, lateness) over the last minutes",
					params: Type.Object({ name: QueueName }),
					querystring: HistoryQuery,
					response: { 200: HistoryBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
				},
			},
			async (request) => readQueueHistory(db, request.params.name, request.query.minutes ?? 60),
		);
	};
}
