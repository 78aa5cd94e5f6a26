import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invalidField } from '../../errors.js';
import { TASK_STATES } from '../../tasks/states.js';
import { presentTask, type TaskService } from '../../tasks/taskService.js';
import { decodeCreatedAtCursor, encodeCreatedAtCursor } from '../cursors.js';
import { Debounce } from '../schemas/debounce.js';
import { AsyncTimeoutSeconds, ConcurrencyKey, Cursor, ErrorBody, errorResponses, JsonValue, Nullable, Priority, QueueName, RetryPolicyInput, TimeoutSeconds, taskNameSchema, Uuid } from '../schemas/common.js';
import { Task, TaskFields, TaskWithAttempts } from '../schemas/task.js';

const TaskName = taskNameSchema('Task type, e.g. send-email');

const EnqueueBody = Type.Object(
	{
		queue: QueueName,
		name: TaskName,
		payload: Type.Optional(JsonValue({ description: 'Any JSON (default {}); bounded by PAYLOAD_LIMIT_BYTES and PAYLOAD_MAX_DEPTH' })),
		url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: "Deliver here instead of the queue's handlers" })),
		delaySeconds: Type.Optional(Type.Number({ minimum: 0 })),
		runAt: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601; at most MAX_RUN_AT_DAYS ahead' })),
		priority: Type.Optional(Priority),
		idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
		retry: Type.Optional(RetryPolicyInput),
		timeoutSeconds: Type.Optional(TimeoutSeconds),
		asyncTimeoutSeconds: Type.Optional(AsyncTimeoutSeconds),
		concurrencyKey: Type.Optional(ConcurrencyKey),
		debounce: Type.Optional(Debounce),
	},
	{ additionalProperties: false },
);

const BulkBody = Type.Object({ tasks: Type.Array(EnqueueBody, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false });

const Debounced = Type.Boolean({ description: 'With `debounce`: true when this enqueue joined the waiting task of its group (200), false when it opened a group (201)' });
const EnqueuedTask = Type.Object({ ...TaskFields, debounced: Type.Optional(Debounced) });

const IdParams = Type.Object({ id: Uuid });

const ListQuery = Type.Object(
	{
		queue: Type.Optional(QueueName),
		state: Type.Optional(Type.Enum(TASK_STATES)),
		name: Type.Optional(TaskName),
		idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'The task holding this key in `queue` (required with it): at most one item' })),
		limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
		cursor: Type.Optional(Cursor),
	},
	{ additionalProperties: false },
);

/** /v1/tasks: enqueue (one or bulk), get with attempts, list, cancel, retry. */
export function taskRoutes(tasks: TaskService): FastifyPluginAsyncTypebox {
	return async (app) => {
		const tags = ['tasks'];

		app.post(
			'/v1/tasks',
			{
				schema: {
					tags,
					summary: 'Enqueue a task (201; 200 with the original task for a repeated idempotency key, or with the waiting task a debounced enqueue joined)',
					body: EnqueueBody,
					response: { 200: EnqueuedTask, 201: EnqueuedTask, ...errorResponses },
				},
			},
			async (request, reply) => {
				const { task, created, debounced } = await tasks.enqueue(request.body);
				return reply.code(created ? 201 : 200).send({ ...presentTask(task), ...(debounced === undefined ? {} : { debounced }) });
			},
		);

		app.post(
			'/v1/tasks/bulk',
			{
				schema: {
					tags,
					summary: 'Enqueue up to 1,000 tasks at once, all or nothing',
					body: BulkBody,
					response: { 201: Type.Object({ items: Type.Array(Type.Object({ ...TaskFields, created: Type.Boolean(), debounced: Debounced })) }), ...errorResponses },
				},
			},
			async (request, reply) => {
				const results = await tasks.enqueueBulk(request.body.tasks);
				return reply.code(201).send({ items: results.map((r) => ({ ...presentTask(r.task), created: r.created, debounced: r.debounced })) });
			},
		);

		app.get(
			'/v1/tasks',
			{
				schema: {
					tags,
					summary: 'List tasks, newest first, filtered by queue, state and name; or find one by queue and idempotencyKey',
					querystring: ListQuery,
					response: { 200: Type.Object({ items: Type.Array(Task), nextCursor: Nullable(Type.String()) }), 400: ErrorBody, 401: ErrorBody },
				},
			},
			async (request) => {
				const q = request.query;
				// Keys are scoped to a queue (two queues may hold the same key).
				if (q.idempotencyKey !== undefined && q.queue === undefined) throw invalidField('querystring.queue', 'is required with idempotencyKey (keys are scoped to a queue)');
				const page = await tasks.list({
					queue: q.queue,
					state: q.state,
					name: q.name,
					idempotencyKey: q.idempotencyKey,
					after: decodeCreatedAtCursor(q.cursor),
					limit: q.limit ?? 50,
				});
				return {
					items: page.items.map((t) => presentTask(t)),
					nextCursor: encodeCreatedAtCursor(page.next),
				};
			},
		);

		app.get(
			'/v1/tasks/:id',
			{ schema: { tags, summary: 'Get a task with its attempt history', params: IdParams, response: { 200: TaskWithAttempts, ...errorResponses } } },
			async (request) => {
				const { task, attempts } = await tasks.get(request.params.id);
				return presentTask(task, attempts);
			},
		);

		app.post(
			'/v1/tasks/:id/cancel',
			{ schema: { tags, summary: 'Cancel a task that has not started (409 otherwise)', params: IdParams, response: { 200: Task, ...errorResponses } } },
			async (request) => presentTask(await tasks.cancel(request.params.id)),
		);

		app.post(
			'/v1/tasks/:id/retry',
			{ schema: { tags, summary: 'Run a failed or cancelled task again now (409 otherwise)', params: IdParams, response: { 200: Task, ...errorResponses } } },
			async (request) => presentTask(await tasks.retry(request.params.id)),
		);
	};
}
