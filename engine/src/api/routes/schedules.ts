import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { presentSchedule } from '../../schedules/scheduleDefinition.js';
import type { ScheduleService } from '../../schedules/scheduleService.js';
import { presentTask } from '../../tasks/taskService.js';
import { decodeNameCursor, encodeNameCursor } from '../cursors.js';
import { ErrorBody, errorResponses, JsonValue, ListQuery, Priority, QueueName, RetryPolicyInput, SCHEDULE_NAME_PATTERN, TimeoutSeconds, taskNameSchema, Uuid } from '../schemas/common.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const ScheduleName = Type.String({ minLength: 1, maxLength: 200, pattern: SCHEDULE_NAME_PATTERN, description: 'Unique; 1–200 characters, no "/"' });
// The same bounds as a task's name in POST /v1/tasks.
const TaskName = taskNameSchema("Name of the tasks it creates (default: the schedule's name)");

/** Every field but `name`; null clears an optional field on update. */
const ScheduleFields = {
	queue: Type.Optional(QueueName),
	taskName: Type.Optional(Nullable(TaskName)),
	payload: Type.Optional(JsonValue({ description: 'Payload of every task (any JSON, default {}; nested at most PAYLOAD_MAX_DEPTH levels)' })),
	url: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2048, description: "Deliver here instead of the queue's handlers" }))),
	priority: Type.Optional(Nullable(Priority)),
	retry: Type.Optional(Nullable(RetryPolicyInput)),
	timeoutSeconds: Type.Optional(Nullable(TimeoutSeconds)),
	cron: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200, description: '5 fields, or 6 with seconds first; evaluated in `timezone`' }))),
	everySeconds: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 366 * 86400, description: 'Fixed interval, counted from startAt (else from creation)' }))),
	timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the cron expression (default UTC)' })),
	startAt: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
	endAt: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
	misfire: Type.Optional(Type.Enum(['skip', 'run_once'], { description: 'Occurrences missed while no engine ran: skip (default) or run the latest once' })),
	overlap: Type.Optional(Type.Enum(['allow', 'skip'], { description: "skip: don't fire while the previous task is queued, active or retrying" })),
	paused: Type.Optional(Type.Boolean()),
};

const CreateBody = Type.Object({ ...ScheduleFields, name: ScheduleName, queue: QueueName }, { additionalProperties: false });
const UpdateBody = Type.Object({ ...ScheduleFields, name: Type.Optional(ScheduleName) }, { additionalProperties: false });
const UpsertBody = Type.Object(ScheduleFields, { additionalProperties: false });
type CreateBody = Static<typeof CreateBody>;
type UpdateBody = Static<typeof UpdateBody>;

const Schedule = Type.Object({
	id: Type.String(),
	name: Type.String(),
	queue: Type.String(),
	taskName: Type.String(),
	payload: Type.Unknown(),
	url: Nullable(Type.String()),
	priority: Nullable(Type.Integer()),
	retry: Nullable(Type.Object({}, { additionalProperties: true })),
	timeoutSeconds: Nullable(Type.Integer()),
	cron: Nullable(Type.String()),
	everySeconds: Nullable(Type.Integer()),
	timezone: Type.String(),
	startAt: Nullable(Type.String()),
	endAt: Nullable(Type.String()),
	misfire: Type.String(),
	overlap: Type.String(),
	paused: Type.Boolean(),
	nextFireAt: Nullable(Type.String({ description: 'Next occurrence not yet handed to the queue (UTC); null while paused or ended' })),
	lastFireAt: Nullable(Type.String()),
	createdAt: Type.String(),
	updatedAt: Type.String(),
});

const IdParams = Type.Object({ id: Uuid });
const NameParams = Type.Object({ name: ScheduleName });
const ListSchedulesQuery = Type.Object({ ...ListQuery, queue: Type.Optional(QueueName) }, { additionalProperties: false });
const NextQuery = Type.Object({ count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) }, { additionalProperties: false });

/** /v1/schedules: cron or interval schedules that turn each occurrence into one task. */
export function scheduleRoutes(schedules: ScheduleService) {
	return async (app: FastifyInstance) => {
		const tags = ['schedules'];

		app.post<{ Body: CreateBody }>(
			'/v1/schedules',
			{ schema: { tags, summary: 'Create a schedule (409 schedule_exists when the name is taken)', body: CreateBody, response: { 201: Schedule, ...errorResponses } } },
			async (request, reply) => reply.code(201).send(presentSchedule(await schedules.create(request.body))),
		);

		app.get<{ Querystring: Static<typeof ListSchedulesQuery> }>(
			'/v1/schedules',
			{
				schema: {
					tags,
					summary: 'List schedules by name, optionally of one queue',
					querystring: ListSchedulesQuery,
					response: { 200: Type.Object({ items: Type.Array(Schedule), nextCursor: Nullable(Type.String()) }), 400: ErrorBody, 401: ErrorBody },
				},
			},
			async (request) => {
				const { cursor, limit, queue } = request.query;
				const page = await schedules.list({ queue, after: decodeNameCursor(cursor, 'schedule'), limit: limit ?? 50 });
				return { items: page.items.map(presentSchedule), nextCursor: encodeNameCursor(page.next) };
			},
		);

		app.get<{ Params: Static<typeof IdParams> }>(
			'/v1/schedules/:id',
			{ schema: { tags, summary: 'Get a schedule', params: IdParams, response: { 200: Schedule, ...errorResponses } } },
			async (request) => presentSchedule(await schedules.get(request.params.id)),
		);

		app.put<{ Params: Static<typeof IdParams>; Body: UpdateBody }>(
			'/v1/schedules/:id',
			{
				schema: {
					tags,
					summary: 'Update a schedule (fields given replace, null clears, retry merges; nextFireAt is recomputed)',
					params: IdParams,
					body: UpdateBody,
					response: { 200: Schedule, ...errorResponses },
				},
			},
			async (request) => presentSchedule(await schedules.update(request.params.id, request.body)),
		);

		app.get<{ Params: Static<typeof NameParams> }>(
			'/v1/schedules/by-name/:name',
			{ schema: { tags, summary: 'Get a schedule by its name', params: NameParams, response: { 200: Schedule, ...errorResponses } } },
			async (request) => presentSchedule(await schedules.getByName(request.params.name)),
		);

		app.put<{ Params: Static<typeof NameParams>; Body: Static<typeof UpsertBody> }>(
			'/v1/schedules/by-name/:name',
			{
				schema: {
					tags,
					summary: 'Create (201) or update (200) the schedule of this name',
					params: NameParams,
					body: UpsertBody,
					response: { 200: Schedule, 201: Schedule, ...errorResponses },
				},
			},
			async (request, reply) => {
				const { schedule, created } = await schedules.upsert(request.params.name, request.body);
				return reply.code(created ? 201 : 200).send(presentSchedule(schedule));
			},
		);

		app.delete<{ Params: Static<typeof IdParams> }>(
			'/v1/schedules/:id',
			{ schema: { tags, summary: 'Delete a schedule (its past tasks stay)', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
			async (request, reply) => {
				await schedules.delete(request.params.id);
				return reply.code(204).send();
			},
		);

		for (const action of ['pause', 'resume'] as const) {
			app.post<{ Params: Static<typeof IdParams> }>(
				`/v1/schedules/:id/${action}`,
				{
					schema: {
						tags,
						summary: action === 'pause' ? 'Pause: no occurrence fires until resumed' : 'Resume from the next occurrence (missed ones are not fired)',
						params: IdParams,
						response: { 200: Schedule, ...errorResponses },
					},
				},
				async (request) => presentSchedule(await schedules.setPaused(request.params.id, action === 'pause')),
			);
		}

		app.post<{ Params: Static<typeof IdParams> }>(
			'/v1/schedules/:id/run',
			{
				schema: {
					tags,
					summary: 'Create one task now (its occurrence is now), paused or not',
					params: IdParams,
					response: { 201: Type.Object({}, { additionalProperties: true }), ...errorResponses },
				},
			},
			async (request, reply) => reply.code(201).send(presentTask(await schedules.runNow(request.params.id))),
		);

		app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof NextQuery> }>(
			'/v1/schedules/:id/next',
			{
				schema: {
					tags,
					summary: 'The next fire times from now (UTC), count 1–100 (default 10)',
					params: IdParams,
					querystring: NextQuery,
					response: { 200: Type.Object({ fireTimes: Type.Array(Type.String()) }), ...errorResponses },
				},
			},
			async (request) => ({ fireTimes: (await schedules.nextFireTimes(request.params.id, request.query.count ?? 10)).map((d) => d.toISOString()) }),
		);
	};
}
