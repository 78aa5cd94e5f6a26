import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { BATCH_STATES, type BatchState } from '../../batches/batchSql.js';
import type { BatchService } from '../../batches/batchService.js';
import { presentBatch } from '../../batches/batchView.js';
import { decodeCreatedAtCursor, encodeCreatedAtCursor } from '../cursors.js';
import { Batch } from '../schemas/batch.js';
import { BOUNDED_NESTING, Cursor, ErrorBody, errorResponses, JsonValue, Nullable, Priority, QueueName, RetryPolicyInput, TimeoutSeconds, Uuid } from '../schemas/common.js';

const Items = Type.Array(JsonValue(), { minItems: 1, description: 'Any JSON values (each nested at most PAYLOAD_MAX_DEPTH levels); each chunk delivers `chunkSize` of them in `payload.items`' });

const CreateBody = Type.Object(
	{
		queue: QueueName,
		name: Type.String({ minLength: 1, maxLength: 200, description: 'Task name of every chunk' }),
		items: Type.Optional(Items),
		chunkSize: Type.Integer({ minimum: 1, maximum: 10_000, description: 'Items per chunk (1–10,000)' }),
		concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Chunks in flight at once (default 1)' })),
		delayBetweenChunksSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400, description: 'Spacing of chunk starts (default 0)' })),
		url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: "Deliver chunks here instead of the queue's handlers" })),
		callbackUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Receives `{ batch }` (signed) each time the batch finishes' })),
		payload: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Merged into every chunk payload next to `items`; nested at most PAYLOAD_MAX_DEPTH levels', [BOUNDED_NESTING]: true })),
		open: Type.Optional(Type.Boolean({ description: 'Take items in pages (POST …/items) until POST …/start' })),
		priority: Type.Optional(Priority),
		retry: Type.Optional(RetryPolicyInput),
		timeoutSeconds: Type.Optional(TimeoutSeconds),
	},
	{ additionalProperties: false },
);

const ItemsBody = Type.Object({ items: Items }, { additionalProperties: false });

const Accepted = Type.Object({ id: Type.String(), state: Type.Enum(BATCH_STATES), totalItems: Type.Integer(), totalChunks: Type.Integer() });

const IdParams = Type.Object({ id: Uuid });

const ListQuery = Type.Object(
	{
		queue: Type.Optional(QueueName),
		state: Type.Optional(Type.Enum(BATCH_STATES)),
		limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
		cursor: Type.Optional(Cursor),
	},
	{ additionalProperties: false },
);

const accepted = (b: { id: string; state: BatchState; totalItems: number; totalChunks: number }) => ({
	id: b.id,
	state: b.state,
	totalItems: b.totalItems,
	totalChunks: b.totalChunks,
});

/** /v1/batches: create (whole or in pages), live counters, list, cancel, retry the failed chunks. */
export function batchRoutes(batches: BatchService): FastifyPluginAsyncTypebox {
	return async (app) => {
		const tags = ['batches'];
		const byId = { tags, params: IdParams };

		app.post(
			'/v1/batches',
			{
				schema: {
					tags,
					summary: 'Create a batch: items split into chunks, each delivered as a task (open: true takes items in pages)',
					body: CreateBody,
					response: { 202: Accepted, ...errorResponses },
				},
			},
			async (request, reply) => reply.code(202).send(accepted(await batches.create(request.body))),
		);

		app.post(
			'/v1/batches/:id/items',
			{ schema: { ...byId, summary: 'Add a page of items to an open batch (409 once started)', body: ItemsBody, response: { 200: Accepted, ...errorResponses } } },
			async (request) => accepted(await batches.addItems(request.params.id, request.body.items)),
		);

		app.post(
			'/v1/batches/:id/start',
			{ schema: { ...byId, summary: 'Start an open batch', response: { 200: Batch, ...errorResponses } } },
			async (request) => presentBatch(await batches.start(request.params.id)),
		);

		app.get(
			'/v1/batches/:id',
			{ schema: { ...byId, summary: 'A batch with its counters, throughput and ETA', response: { 200: Batch, ...errorResponses } } },
			async (request) => presentBatch(await batches.get(request.params.id)),
		);

		app.get(
			'/v1/batches',
			{
				schema: {
					tags,
					summary: 'List batches, newest first',
					querystring: ListQuery,
					response: { 200: Type.Object({ items: Type.Array(Batch), nextCursor: Nullable(Type.String()) }), 400: ErrorBody, 401: ErrorBody },
				},
			},
			async (request) => {
				const q = request.query;
				const page = await batches.list({ queue: q.queue, state: q.state, after: decodeCreatedAtCursor(q.cursor), limit: q.limit ?? 50 });
				return { items: page.items.map(presentBatch), nextCursor: encodeCreatedAtCursor(page.next) };
			},
		);

		app.post(
			'/v1/batches/:id/cancel',
			{ schema: { ...byId, summary: 'Cancel: chunks not started are cancelled, chunks being delivered finish', response: { 200: Batch, ...errorResponses } } },
			async (request) => presentBatch(await batches.cancel(request.params.id)),
		);

		app.post(
			'/v1/batches/:id/retry-failed',
			{ schema: { ...byId, summary: 'Run only the failed chunks again; the batch calls back again when they finish', response: { 200: Batch, ...errorResponses } } },
			async (request) => presentBatch(await batches.retryFailed(request.params.id)),
		);
	};
}
