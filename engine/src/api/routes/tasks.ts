import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { TASK_STATES, type TaskState } from '../../tasks/states.js';
import { presentTask, type TaskService } from '../../tasks/taskService.js';
import { decodeCreatedAtCursor, encodeCreatedAtCursor } from '../cursors.js';
import { Cursor, ErrorBody, errorResponses, JsonValue, Priority, QueueName, RetryPolicy, RetryPolicyInput, TimeoutSeconds, taskNameSchema, Uuid } from '../schemas/common.js';

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
	},
	{ additionalProperties: false },
);
type EnqueueBody = Static<typeof EnqueueBody>;

const BulkBody = Type.Object({ tasks: Type.Array(EnqueueBody, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false });

const Attempt = Type.Object({
	number: Type.Integer(),
	startedAt: Type.String(),
	durationMs: Type.Union([Type.Integer(), Type.Null()]),
	outcome: Type.String(),
	statusCode: Type.Union([Type.Integer(), Type.Null()]),
	errorClass: Type.Union([Type.String(), Type.Null()]),
	error: Type.Union([Type.String(), Type.Null()]),
	responseSnippet: Type.Union([Type.String(), Type.Null()]),
	handlerId: Type.Union([Type.String(), Type.Null()]),
});

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const TaskFields = {
	id: Type.String(),
	queue: Type.String(),
	name: Type.String(),
	state: Type.Enum(TASK_STATES),
	payload: Type.Unknown(),
	priority: Type.Integer(),
	retry: RetryPolicy,
	timeoutSeconds: Type.Integer(),
	maxAttempts: Type.Integer(),
	dueAt: Type.String(),
	createdAt: Type.String(),
	startedAt: Nullable(Type.String()),
	finishedAt: Nullable(Type.String()),
	attemptCount: Type.Integer(),
	result: Type.Unknown(),
	lastError: Nullable(Type.String()),
	idempotencyKey: Nullable(Type.String()),
	url: Nullable(Type.String()),
	batch: Type.Optional(Type.Object({ id: Type.String(), chunkIndex: Type.Integer(), totalChunks: Type.Integer() })),
	schedule: Type.Optional(Type.Object({ id: Type.String(), name: Type.String(), occurrence: Type.String() })),
};
const Task = Type.Object(TaskFields);
const TaskWithAttempts = Type.Object({ ...TaskFields, attempts: Type.Array(Attempt) });

const IdParams = Type.Object({ id: Uuid });

const ListQuery = Type.Object(
	{
		queue: Type.Optional(QueueName),
		state: Type.Optional(Type.Enum(TASK_STATES)),
		name: Type.Optional(TaskName),
		limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
		cursor: Type.Optional(Cursor),
	},
	{ additionalProperties: false },
);

/** /v1/tasks: enqueue (one or bulk), get with attempts, list, cancel, retry. */
export function taskRoutes(tasks: TaskService) {
	return async (app: FastifyInstance) => {
		const tags = ['tasks'];

		app.post<{ Body: EnqueueBody }>(
			'/v1/tasks',
			{
				schema: {
					tags,
					summary: 'Enqueue a task (201; 200 with the original task for a repeated idempotency key)',
					body: EnqueueBody,
					response: { 200: Task, 201: Task, ...errorResponses },
				},
			},
			async (request, reply) => {
				const { task, created } = await tasks.enqueue(request.body);
				return reply.code(created ? 201 : 200).send(presentTask(task));
			},
		);

		app.post<{ Body: Static<typeof BulkBody> }>(
			'/v1/tasks/bulk',
			{
				schema: {
					tags,
					summary: 'Enqueue up to 1,000 tasks at once, all or nothing',
					body: BulkBody,
					response: { 201: Type.Object({ items: Type.Array(Type.Object({ ...TaskFields, created: Type.Boolean() })) }), ...errorResponses },
				},
			},
			async (request, reply) => {
				const results = await tasks.enqueueBulk(request.body.tasks);
				return reply.code(201).send({ items: results.map((r) => ({ ...presentTask(r.task), created: r.created })) });
			},
		);

		app.get<{ Querystring: Static<typeof ListQuery> }>(
			'/v1/tasks',
			{
				schema: {
					tags,
					summary: 'List tasks, newest first, filtered by queue, state and name',
					querystring: ListQuery,
					response: { 200: Type.Object({ items: Type.Array(Task), nextCursor: Nullable(Type.String()) }), 400: ErrorBody, 401: ErrorBody },
				},
			},
			async (request) => {
				const q = request.query;
				const page = await tasks.list({ queue: q.queue, state: q.state as TaskState | undefined, name: q.name, after: decodeCreatedAtCursor(q.cursor), limit: q.limit ?? 50 });
				return {
					items: page.items.map((t) => presentTask(t)),
					nextCursor: encodeCreatedAtCursor(page.next),
				};
			},
		);

		app.get<{ Params: Static<typeof IdParams> }>(
			'/v1/tasks/:id',
			{ schema: { tags, summary: 'Get a task with its attempt history', params: IdParams, response: { 200: TaskWithAttempts, ...errorResponses } } },
			async (request) => {
				const { task, attempts } = await tasks.get(request.params.id);
				return presentTask(task, attempts);
			},
		);

		app.post<{ Params: Static<typeof IdParams> }>(
			'/v1/tasks/:id/cancel',
			{ schema: { tags, summary: 'Cancel a task that has not started (409 otherwise)', params: IdParams, response: { 200: Task, ...errorResponses } } },
			async (request) => presentTask(await tasks.cancel(request.params.id)),
		);

		app.post<{ Params: Static<typeof IdParams> }>(
			'/v1/tasks/:id/retry',
			{ schema: { tags, summary: 'Run a failed or cancelled task again now (409 otherwise)', params: IdParams, response: { 200: Task, ...errorResponses } } },
			async (request) => presentTask(await tasks.retry(request.params.id)),
		);
	};
}
