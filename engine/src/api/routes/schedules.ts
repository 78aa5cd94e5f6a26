import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { presentSchedule } from '../../schedules/scheduleDefinition.js';
import type { ScheduleService } from '../../schedules/scheduleService.js';
import { presentTask } from '../../tasks/taskService.js';
import { decodeNameCursor, encodeNameCursor } from '../cursors.js';
import { Schedule } from '../schemas/schedule.js';
import { ErrorBody, errorResponses, JsonValue, ListQuery, NoContent, Nullable, Priority, QueueName, RetryPolicyInput, SCHEDULE_NAME_PATTERN, TimeoutSeconds, taskNameSchema, Uuid } from '../schemas/common.js';

const ScheduleName = Type.String({ minLength: 1, maxLength: 200, pattern: SCHEDULE_NAME_PATTERN, description: 'Unique; 1–200 characters, no "/"' });
// The same bounds as a task's name in POST /v1/tasks.
const TaskName = taskNameSchema("Name of the tasks it creates (default: the schedule's name)");

// When a schedule fires: the same bounds for a saved schedule and a preview.
const Cron = Type.String({ minLength: 1, maxLength: 200, description: '5 fields, or 6 with seconds first; evaluated in `timezone`' });
const EverySeconds = Type.Integer({ minimum: 1, maximum: 366 * 86400, description: 'Fixed interval, counted from startAt (else from creation)' });
const Timezone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the cron expression (default UTC)' });
const Instant = Type.String({ format: 'date-time' });

/** Every field but `name`; null clears an optional field on update. */
const ScheduleFields = {
	queue: Type.Optional(QueueName),
	taskName: Type.Optional(Nullable(TaskName)),
	payload: Type.Optional(JsonValue({ description: 'Payload of every task (any JSON, default {}; nested at most PAYLOAD_MAX_DEPTH levels)' })),
	url: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2048, description: "Deliver here instead of the queue's handlers" }))),
	priority: Type.Optional(Nullable(Priority)),
	retry: Type.Optional(Nullable(RetryPolicyInput)),
	timeoutSeconds: Type.Optional(Nullable(TimeoutSeconds)),
	cron: Type.Optional(Nullable(Cron)),
	everySeconds: Type.Optional(Nullable(EverySeconds)),
	timezone: Type.Optional(Timezone),
	startAt: Type.Optional(Nullable(Instant)),
	endAt: Type.Optional(Nullable(Instant)),
	misfire: Type.Optional(Type.Enum(['skip', 'run_once'], { description: 'Occurrences missed while no engine ran: skip (default) or run the latest once' })),
	overlap: Type.Optional(Type.Enum(['allow', 'skip'], { description: "skip: don't fire while the previous task is queued, active or retrying" })),
	paused: Type.Optional(Type.Boolean()),
};

const CreateBody = Type.Object({ ...ScheduleFields, name: ScheduleName, queue: QueueName }, { additionalProperties: false });
const UpdateBody = Type.Object({ ...ScheduleFields, name: Type.Optional(ScheduleName) }, { additionalProperties: false });
const UpsertBody = Type.Object(ScheduleFields, { additionalProperties: false });

/** A schedule not saved yet: only when it fires. */
const PreviewBody = Type.Object(
	{
		cron: Type.Optional(Cron),
		everySeconds: Type.Optional(EverySeconds),
		timezone: Type.Optional(Timezone),
		startAt: Type.Optional(Instant),
		endAt: Type.Optional(Instant),
		count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 5, description: 'How many fire times (default 5)' })),
	},
	{ additionalProperties: false, description: 'One of cron and everySeconds, as for a schedule' },
);
const FireTimes = Type.Object({ fireTimes: Type.Array(Type.String({ description: 'UTC, ISO 8601' })) });

const IdParams = Type.Object({ id: Uuid });
const NameParams = Type.Object({ name: ScheduleName });
const ListSchedulesQuery = Type.Object({ ...ListQuery, queue: Type.Optional(QueueName) }, { additionalProperties: false });
const NextQuery = Type.Object({ count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) }, { additionalProperties: false });

/** /v1/schedules: cron or interval schedules that turn each occurrence into one task. */
export function scheduleRoutes(schedules: ScheduleService): FastifyPluginAsyncTypebox {
	return async (app) => {
		const tags = ['schedules'];

		app.post(
			'/v1/schedules',
			{ schema: { tags, summary: 'Create a schedule (409 schedule_exists when the name is taken)', body: CreateBody, response: { 201: Schedule, ...errorResponses } } },
			async (request, reply) => reply.code(201).send(presentSchedule(await schedules.create(request.body))),
		);

		app.post(
			'/v1/schedules/preview',
			{
				schema: {
					tags,
					summary: 'The next fire times (UTC) of a schedule before it is saved, as if created now; saves nothing',
					body: PreviewBody,
					response: { 200: FireTimes, 400: ErrorBody, 401: ErrorBody, 413: ErrorBody, 415: ErrorBody, 503: ErrorBody },
				},
			},
			async (request) => {
				const { count, ...when } = request.body;
				return { fireTimes: (await schedules.previewFireTimes(when, count ?? 5)).map((d) => d.toISOString()) };
			},
		);

		app.get(
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

		app.get(
			'/v1/schedules/:id',
			{ schema: { tags, summary: 'Get a schedule', params: IdParams, response: { 200: Schedule, ...errorResponses } } },
			async (request) => presentSchedule(await schedules.get(request.params.id)),
		);

		app.put(
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

		app.get(
			'/v1/schedules/by-name/:name',
			{ schema: { tags, summary: 'Get a schedule by its name', params: NameParams, response: { 200: Schedule, ...errorResponses } } },
			async (request) => presentSchedule(await schedules.getByName(request.params.name)),
		);

		app.put(
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

		app.delete(
			'/v1/schedules/:id',
			{ schema: { tags, summary: 'Delete a schedule (its past tasks stay)', params: IdParams, response: { 204: NoContent, ...errorResponses } } },
			async (request, reply) => {
				await schedules.delete(request.params.id);
				return reply.code(204).send();
			},
		);

		for (const action of ['pause', 'resume'] as const) {
			app.post(
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

		app.post(
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

		app.get(
			'/v1/schedules/:id/next',
			{
				schema: {
					tags,
					summary: 'The next fire times from now (UTC), count 1–100 (default 10)',
					params: IdParams,
					querystring: NextQuery,
					response: { 200: FireTimes, ...errorResponses },
				},
			},
			async (request) => ({ fireTimes: (await schedules.nextFireTimes(request.params.id, request.query.count ?? 10)).map((d) => d.toISOString()) }),
		);
	};
}
