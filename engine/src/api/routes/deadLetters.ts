import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { REDRIVE_LIMIT, type DeadLetterService } from '../../tasks/deadLetterService.js';
import { ErrorBody, errorResponses, QueueName, Uuid } from '../schemas/common.js';

const Selector = Type.Object(
	{
		queue: Type.Optional(QueueName),
		ids: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 10_000 })),
		signature: Type.Optional(Type.String({ pattern: '^sig_[0-9a-f]{12}$' })),
	},
	{ additionalProperties: false },
);

const Group = Type.Object({
	signature: Type.String(),
	queue: Type.String(),
	statusCode: Type.Union([Type.Integer(), Type.Null()]),
	errorClass: Type.Union([Type.String(), Type.Null()]),
	message: Type.String(),
	count: Type.Integer(),
	firstAt: Type.String(),
	lastAt: Type.String(),
	taskIds: Type.Array(Type.String()),
});

/** /v1/dead-letters: failed tasks grouped by cause, redrive and discard. */
export function deadLetterRoutes(deadLetters: DeadLetterService): FastifyPluginAsyncTypebox {
	return async (app) => {
		const tags = ['dead letters'];
		app.get(
			'/v1/dead-letters',
			{
				schema: {
					tags,
					summary: 'Failed tasks grouped by error signature',
					querystring: Type.Object({ queue: Type.Optional(QueueName) }, { additionalProperties: false }),
					response: { 200: Type.Object({ groups: Type.Array(Group) }), 400: ErrorBody, 401: ErrorBody },
				},
			},
			async (request) => {
				const groups = await deadLetters.groups(request.query.queue);
				return { groups: groups.map((g) => ({ ...g, firstAt: g.firstAt.toISOString(), lastAt: g.lastAt.toISOString() })) };
			},
		);

		app.post(
			'/v1/dead-letters/redrive',
			{
				schema: {
					tags,
					summary: 'Put dead letters back in line (same id, attempt numbers continue, fresh budget)',
					body: Selector,
					response: {
						200: Type.Object({
							redriven: Type.Integer(),
							taskIds: Type.Array(Type.String()),
							remaining: Type.Integer({ description: `Matching dead letters left (a call moves at most ${REDRIVE_LIMIT}); call again while > 0` }),
						}),
						...errorResponses,
					},
				},
			},
			async (request) => {
				const { taskIds, remaining } = await deadLetters.redrive(request.body);
				return { redriven: taskIds.length, taskIds, remaining };
			},
		);

		app.delete(
			'/v1/dead-letters',
			{
				schema: {
					tags,
					summary: 'Discard dead letters (deletes the failed tasks and their attempts)',
					body: Selector,
					response: { 200: Type.Object({ discarded: Type.Integer() }), ...errorResponses },
				},
			},
			async (request) => {
				return { discarded: await deadLetters.discard(request.body) };
			},
		);
	};
}
