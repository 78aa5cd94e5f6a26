import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AttemptReport, AttemptReports } from '../../tasks/attemptReports.js';
import { presentTask } from '../../tasks/taskService.js';
import { errorResponses, JsonValue, Uuid } from '../schemas/common.js';
import { TaskWithAttempts } from '../schemas/task.js';

const AttemptParams = Type.Object({
	id: Uuid,
	n: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'The attempt number (x-task-attempt of its delivery)' }),
});

const CompleteBody = Type.Object(
	{ result: Type.Optional(JsonValue({ description: "The task's result (kept up to RESULT_LIMIT_BYTES, like a handler's answer)" })) },
	{ additionalProperties: false },
);

const FailBody = Type.Object(
	{
		error: Type.String({ minLength: 1, maxLength: 10_000, description: 'What went wrong (shown on the attempt and the task)' }),
		retry: Type.Optional(Type.Boolean({ description: 'false: a dead letter now, whatever retries are left. Default true (the retry policy decides)' })),
		retryAfterSeconds: Type.Optional(
			Type.Number({
				minimum: 0,
				// No policy allows a longer delay (retry.maxDelaySeconds is at most 7 days); the task's own cap is checked after.
				maximum: 7 * 86_400,
				description: "Retry after exactly this long (no jitter), 0 to the task's retry.maxDelaySeconds; only while retries are left. Not with retry: false (400)",
			}),
		),
	},
	{ additionalProperties: false },
);

const HeartbeatBody = Type.Object(
	{
		extendSeconds: Type.Optional(
			Type.Integer({ minimum: 1, maximum: 86_400, description: "Deadline of an async attempt = now + this (default the attempt's asyncTimeoutSeconds)" }),
		),
		progress: Type.Optional(
			Type.Object(
				{
					percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
					message: Type.Optional(Type.String({ maxLength: 1000 })),
				},
				{ additionalProperties: false },
			),
		),
	},
	{ additionalProperties: false },
);

type Params = Static<typeof AttemptParams>;

/**
 * /v1/tasks/{id}/attempts/{n}/complete|fail|heartbeat: a handler's reports on an attempt it took
 * with a 202, or on one still under way (docs/async-completion.md).
 */
export function attemptReportRoutes(reports: AttemptReports): FastifyPluginAsyncTypebox {
	return async (app) => {
		const tags = ['tasks'];
		const answer = async (params: Params, report: AttemptReport) => {
			const { task, attempts } = await reports.report(params.id, params.n, report);
			return presentTask(task, attempts);
		};
		const response = { 200: TaskWithAttempts, ...errorResponses };
		// `complete` and `heartbeat` have nothing required: a bare POST (no body at all) is an empty report.
		const emptyBodyIsEmptyReport = async (request: { body: unknown }) => {
			if (request.body === undefined) request.body = {};
		};

		app.post(
			'/v1/tasks/:id/attempts/:n/complete',
			{
				schema: {
					tags,
					summary: 'Complete the open attempt n with an optional result (409 attempt_closed when it is over; a repeat is a 200 that changes nothing)',
					params: AttemptParams,
					body: CompleteBody,
					response,
				},
				preValidation: emptyBodyIsEmptyReport,
			},
			async (request) => answer(request.params, { kind: 'complete', result: request.body.result }),
		);

		app.post(
			'/v1/tasks/:id/attempts/:n/fail',
			{
				schema: {
					tags,
					summary: 'Fail the open attempt n: retried by policy, after exactly retryAfterSeconds, or (retry: false) a dead letter now',
					params: AttemptParams,
					body: FailBody,
					response,
				},
			},
			async (request) => answer(request.params, { kind: 'fail', ...request.body }),
		);

		app.post(
			'/v1/tasks/:id/attempts/:n/heartbeat',
			{
				schema: {
					tags,
					summary: 'Still working on attempt n: moves its deadline (async attempts) and records progress',
					params: AttemptParams,
					body: HeartbeatBody,
					response,
				},
				preValidation: emptyBodyIsEmptyReport,
			},
			async (request) => answer(request.params, { kind: 'heartbeat', ...request.body }),
		);
	};
}
