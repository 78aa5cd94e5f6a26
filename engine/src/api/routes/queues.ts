import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { presentHandler, presentQueue, type QueueService } from '../../queues/queueService.js';
import { decodeNameCursor, encodeNameCursor } from '../cursors.js';
import { AsyncTimeoutSeconds, ErrorBody, errorResponses, ListQuery, NoContent, Priority, QueueName, RetryPolicyInput, TimeoutSeconds, Uuid } from '../schemas/common.js';
import { HandlerResponse, QueueResponse } from '../schemas/queue.js';

const RateLimit = Type.Object(
	{
		max: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
		periodSeconds: Type.Integer({ minimum: 1, maximum: 86400 }),
	},
	{ additionalProperties: false },
);

const QueueFields = {
	retry: Type.Optional(RetryPolicyInput),
	timeoutSeconds: Type.Optional(Type.Union([TimeoutSeconds, Type.Null()])),
	asyncTimeoutSeconds: Type.Optional(Type.Union([AsyncTimeoutSeconds, Type.Null()])),
	priority: Type.Optional(Type.Union([Priority, Type.Null()])),
	concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Deliveries in flight across all engines (default 10)' })),
	rateLimit: Type.Optional(Type.Union([RateLimit, Type.Null()])),
	keyConcurrency: Type.Optional(
		Type.Union([Type.Integer({ minimum: 1, maximum: 10_000, description: 'At most this many active tasks per concurrencyKey, across all engines (1: one at a time per key)' }), Type.Null()]),
	),
	keyRateLimit: Type.Optional(Type.Union([RateLimit, Type.Null()], { description: 'At most `max` tasks of one concurrencyKey start per `periodSeconds` (fixed window)' })),
	paused: Type.Optional(Type.Boolean()),
};

const CreateQueueBody = Type.Object({ name: QueueName, ...QueueFields }, { additionalProperties: false });
const UpdateQueueBody = Type.Object(QueueFields, { additionalProperties: false });

const HandlerBody = Type.Object(
	{
		url: Type.String({ minLength: 1, maxLength: 2048 }),
		events: Type.Optional(Type.Array(Type.Enum(['task', 'batch', 'dead_letter']), { minItems: 1, maxItems: 3, uniqueItems: true })),
		mode: Type.Optional(Type.Enum(['production', 'test'])),
		confirm: Type.Optional(
			Type.Boolean({
				description:
					'A 2xx completes a task only with the x-task-confirm marker (the Task Trigger registers this way); an unmarked 2xx is retried as "unconfirmed". Default false',
			}),
		),
	},
	{ additionalProperties: false },
);

const NameParams = Type.Object({ name: QueueName });
const HandlerParams = Type.Object({ name: QueueName, id: Uuid });

/** /v1/queues and their handlers. */
export function queueRoutes(queues: QueueService): FastifyPluginAsyncTypebox {
	return async (app) => {
		const tags = ['queues'];

		app.post(
			'/v1/queues',
			{ schema: { tags, summary: 'Create a queue', body: CreateQueueBody, response: { 201: QueueResponse, ...errorResponses } } },
			async (request, reply) => {
				const { name, ...input } = request.body;
				return reply.code(201).send(presentQueue(await queues.create(name, input)));
			},
		);

		app.get(
			'/v1/queues',
			{
				schema: {
					tags,
					summary: 'List queues',
					querystring: Type.Object(ListQuery, { additionalProperties: false }),
					response: { 200: Type.Object({ items: Type.Array(QueueResponse), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody, 401: ErrorBody },
				},
			},
			async (request) => {
				const page = await queues.list(decodeNameCursor(request.query.cursor, 'queue'), request.query.limit ?? 50);
				return { items: page.items.map(presentQueue), nextCursor: encodeNameCursor(page.next) };
			},
		);

		app.get(
			'/v1/queues/:name',
			{ schema: { tags, summary: 'Get a queue', params: NameParams, response: { 200: QueueResponse, ...errorResponses } } },
			async (request) => presentQueue(await queues.get(request.params.name)),
		);

		app.put(
			'/v1/queues/:name',
			{
				schema: {
					tags,
					summary: 'Update a queue (fields given are merged; retry field by field; null clears)',
					params: NameParams,
					body: UpdateQueueBody,
					response: { 200: QueueResponse, ...errorResponses },
				},
			},
			async (request) => presentQueue(await queues.update(request.params.name, request.body)),
		);

		app.delete(
			'/v1/queues/:name',
			{
				schema: {
					tags,
					summary: 'Delete a queue (409 while it has unfinished tasks, unless force=true)',
					params: NameParams,
					querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
					response: { 204: NoContent, ...errorResponses },
				},
			},
			async (request, reply) => {
				await queues.delete(request.params.name, request.query.force === true);
				return reply.code(204).send();
			},
		);

		for (const action of ['pause', 'resume'] as const) {
			app.post(
				`/v1/queues/:name/${action}`,
				{
					schema: {
						tags,
						summary: action === 'pause' ? 'Pause delivery (tasks are still accepted)' : 'Resume delivery',
						params: NameParams,
						response: { 200: QueueResponse, ...errorResponses },
					},
				},
				async (request) => presentQueue(await queues.setPaused(request.params.name, action === 'pause')),
			);
		}

		app.post(
			'/v1/queues/:name/rotate-secret',
			{
				schema: {
					tags,
					summary: 'Rotate the queue secret (the old one keeps signing alongside for 24 h)',
					params: NameParams,
					response: { 200: QueueResponse, ...errorResponses },
				},
			},
			async (request) => presentQueue(await queues.rotateSecret(request.params.name)),
		);

		const handlerTags = ['handlers'];
		app.post(
			'/v1/queues/:name/handlers',
			{
				schema: {
					tags: handlerTags,
					summary: 'Register a handler (worker endpoint); the same url and mode again returns the existing one',
					params: NameParams,
					body: HandlerBody,
					response: { 200: HandlerResponse, 201: HandlerResponse, ...errorResponses },
				},
			},
			async (request, reply) => {
				const { handler, created } = await queues.addHandler(request.params.name, request.body);
				return reply.code(created ? 201 : 200).send(presentHandler(handler));
			},
		);

		app.get(
			'/v1/queues/:name/handlers',
			{
				schema: {
					tags: handlerTags,
					summary: "List a queue's handlers",
					params: NameParams,
					response: { 200: Type.Object({ items: Type.Array(HandlerResponse), nextCursor: Type.Null() }), ...errorResponses },
				},
			},
			async (request) => ({ items: (await queues.listHandlers(request.params.name)).map(presentHandler), nextCursor: null }),
		);

		app.get(
			'/v1/queues/:name/handlers/:id',
			{ schema: { tags: handlerTags, summary: 'Get a handler', params: HandlerParams, response: { 200: HandlerResponse, ...errorResponses } } },
			async (request) => presentHandler(await queues.getHandler(request.params.name, request.params.id)),
		);

		app.delete(
			'/v1/queues/:name/handlers/:id',
			{ schema: { tags: handlerTags, summary: 'Remove a handler', params: HandlerParams, response: { 204: NoContent, ...errorResponses } } },
			async (request, reply) => {
				await queues.removeHandler(request.params.name, request.params.id);
				return reply.code(204).send();
			},
		);
	};
}
