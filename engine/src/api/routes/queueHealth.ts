import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { HealthService } from '../../health/healthService.js';
import { DEFAULT_THRESHOLDS } from '../../health/queueStatus.js';
import { ErrorBody, QueueName } from '../schemas/common.js';

const HealthQuery = Type.Object(
	{
		windowSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 86400, default: 3600, description: 'Window of completed/failed counts, recovered, percentiles and handler success rate (s)' })),
		maxQueuedAgeSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 365 * 86400, default: DEFAULT_THRESHOLDS.maxQueuedAgeSeconds, description: 'Oldest due task may wait this long (s)' })),
		maxFailureRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: DEFAULT_THRESHOLDS.maxFailureRate, description: "Share of the last hour's attempts that may fail, 0–1" })),
		maxStuck: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: DEFAULT_THRESHOLDS.maxStuck, description: 'Stuck tasks tolerated' })),
		maxDeadLetters: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: DEFAULT_THRESHOLDS.maxDeadLetters, description: 'Dead letters tolerated' })),
	},
	{ additionalProperties: false },
);
/** Ajv fills in every default, so the handler sees them all (the schema's own type has them optional). */
type HealthQuery = Required<Static<typeof HealthQuery>>;

const Status = Type.Enum(['ok', 'warning', 'critical']);
const Nullable = Type.Union([Type.Number(), Type.Null()]);
const Percentiles = Type.Object({ p50: Nullable, p95: Nullable, p99: Nullable });
const Counts = Type.Object({
	scheduled: Type.Integer(),
	queued: Type.Integer(),
	active: Type.Integer(),
	retrying: Type.Integer(),
	completed: Type.Integer({ description: 'Within the window' }),
	failed: Type.Integer({ description: 'Within the window' }),
	cancelled: Type.Integer(),
});
const Stuck = Type.Object({ count: Type.Integer(), taskIds: Type.Array(Type.String(), { description: 'Oldest first, at most 100' }) });
const Throughput = Type.Object({ last5m: Type.Number(), last60m: Type.Number() }, { description: 'Completed tasks per minute' });

const QueueHealthBody = Type.Object({
	queue: Type.String(),
	status: Status,
	reasons: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })),
	counts: Counts,
	deadLetters: Type.Integer({ description: 'Every failed task kept' }),
	oldestQueuedAgeSeconds: Type.Number({ description: 'How long the oldest due task (queued or retrying) has waited; 0 when none' }),
	stuck: Stuck,
	failuresLastHour: Type.Integer({ description: 'Attempts in the last hour that did not deliver' }),
	recovered: Type.Integer({ description: 'Lost deliveries the engine recovered within the window' }),
	throughputPerMinute: Throughput,
	durationMs: Type.Object(Percentiles.properties, { description: "Attempt durations within the window (its latest 10,000 attempts at most); null when there were none" }),
	latenessMs: Type.Object(Percentiles.properties, { description: 'Attempt start minus the time it was due, over the same attempts' }),
	handlers: Type.Object(
		{ count: Type.Integer(), healthy: Type.Integer(), successRate: Nullable },
		{ description: 'Handlers receiving the queue\'s tasks (production ones, or test-mode ones while there is no production handler); success rate of their attempts within the window' },
	),
	async: Type.Object(
		{ open: Type.Integer(), missedDeadlinesLastHour: Type.Integer() },
		{ description: 'Attempts the handler answered with 202 and has not reported on yet; async attempts that ended at their deadline without a report in the last hour' },
	),
	throttled: Type.Array(Type.Object({ key: Type.Union([Type.String(), Type.Null()]), until: Type.String() }), {
		description: "Keys a handler's 429/503 with Retry-After holds back, and until when (key null: the whole queue); at most 100, latest first",
	}),
	paused: Type.Boolean(),
});

const AllQueuesBody = Type.Object({
	queues: Type.Array(QueueHealthBody),
	totals: Type.Object({
		queues: Type.Integer(),
		status: Status,
		counts: Counts,
		deadLetters: Type.Integer(),
		oldestQueuedAgeSeconds: Type.Number(),
		stuck: Stuck,
		failuresLastHour: Type.Integer(),
		recovered: Type.Integer(),
		throughputPerMinute: Throughput,
	}),
	tables: Type.Array(Type.Object({ name: Type.String(), rows: Type.Number({ description: 'Estimate' }), bytes: Type.Number() })),
});

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

/** Queue health (README, "Queue health and metrics"): current figures and a status from the caller's thresholds. */
export function queueHealthRoutes(health: HealthService): FastifyPluginAsyncTypebox {
	return async (app) => {
		app.get(
			'/v1/queues/:name/health',
			{
				schema: {
					tags: ['health'],
					summary: "A queue's health figures and status",
					params: Type.Object({ name: QueueName }),
					querystring: HealthQuery,
					response: { 200: QueueHealthBody, ...errors },
				},
			},
			async (request) => health.queue(request.params.name, request.query as HealthQuery),
		);
		app.get(
			'/v1/health/queues',
			{
				schema: {
					tags: ['health'],
					summary: 'Health of every queue, totals and table sizes',
					querystring: HealthQuery,
					response: { 200: AllQueuesBody, ...errors },
				},
			},
			async (request) => health.allQueues(request.query as HealthQuery),
		);
	};
}
