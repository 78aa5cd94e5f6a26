import { throttledKeys } from '../flowControl/keySql.js';
import type { Queryable } from '../db/pool.js';
import { notFound } from '../errors.js';
import {
	listQueueNames,
	selectAttemptFigures,
	selectQueueDepths,
	selectHandlerFigures,
	selectTableSizes,
	selectTaskFigures,
	type AttemptFigures,
	type HandlerFigures,
	type QueueDepthFigures,
	type TableSize,
	type TaskFigures,
} from './healthSql.js';
import { evaluateStatus, worstStatus, type HealthReason, type HealthStatus, type HealthThresholds } from './queueStatus.js';

/** A queue's health as the API shows it, plus `recovered` and `handlers.healthy`. */
export interface QueueHealth {
	queue: string;
	status: HealthStatus;
	reasons: HealthReason[];
	counts: { scheduled: number; queued: number; active: number; retrying: number; completed: number; failed: number; cancelled: number };
	deadLetters: number;
	oldestQueuedAgeSeconds: number;
	stuck: { count: number; taskIds: string[] };
	failuresLastHour: number;
	/** Lost deliveries the rescuer retried or dead-lettered within the window. */
	recovered: number;
	throughputPerMinute: { last5m: number; last60m: number };
	durationMs: Percentiles;
	latenessMs: Percentiles;
	handlers: { count: number; healthy: number; successRate: number | null };
	/** Attempts answered with 202 and not reported on yet; async attempts that missed their deadline in the last hour. */
	async: { open: number; missedDeadlinesLastHour: number };
	/** Keys a handler's 429/503 + Retry-After holds back, and until when (key null: the whole queue). */
	throttled: { key: string | null; until: string }[];
	paused: boolean;
}

export interface Percentiles {
	p50: number | null;
	p95: number | null;
	p99: number | null;
}

export interface HealthQuery extends HealthThresholds {
	/** Window of `completed`, `failed`, `recovered`, percentiles and handler success rate. */
	windowSeconds: number;
}

export interface AllQueuesHealth {
	queues: QueueHealth[];
	totals: {
		queues: number;
		status: HealthStatus;
		counts: QueueHealth['counts'];
		deadLetters: number;
		oldestQueuedAgeSeconds: number;
		stuck: { count: number; taskIds: string[] };
		failuresLastHour: number;
		recovered: number;
		throughputPerMinute: { last5m: number; last60m: number };
	};
	tables: TableSize[];
}

export interface HealthServiceOptions {
	schema: string;
	/** pg-boss's schema, whose tables are reported too. */
	dispatchSchema: string;
	/** Grace after an attempt's timeout before an active task counts as stuck (the lease grace). */
	stuckGraceSeconds: number;
	/** Percentiles are taken over at most this many of the window's latest attempts per queue. */
	sampleLimit?: number;
}

/** Health figures of queues, straight from the database on every call (no cache). */
export class HealthService {
	constructor(
		private readonly db: Queryable,
		private readonly options: HealthServiceOptions,
	) {}

	async queue(name: string, query: HealthQuery): Promise<QueueHealth> {
		const [health] = await this.compute([name], query);
		if (!health) throw notFound('Queue', name);
		return health;
	}

	async allQueues(query: HealthQuery): Promise<AllQueuesHealth> {
		const names = await listQueueNames(this.db);
		const [queues, tables] = await Promise.all([
			this.compute(names, query),
			selectTableSizes(this.db, this.options.schema, this.options.dispatchSchema),
		]);
		return { queues, totals: totalsOf(queues), tables };
	}

	/** Depth by state, dead letters, oldest wait and stuck count of every queue: what a metrics scrape shows. */
	async queueDepths(): Promise<QueueDepthFigures[]> {
		return selectQueueDepths(this.db, await listQueueNames(this.db), this.options.stuckGraceSeconds);
	}

	private async compute(names: string[], query: HealthQuery): Promise<QueueHealth[]> {
		const [tasks, attempts, handlers, throttled] = await Promise.all([
			selectTaskFigures(this.db, names, { windowSeconds: query.windowSeconds, stuckGraceSeconds: this.options.stuckGraceSeconds }),
			selectAttemptFigures(this.db, names, { windowSeconds: query.windowSeconds, sampleLimit: this.options.sampleLimit ?? 10_000 }),
			selectHandlerFigures(this.db, names),
			throttledKeys(this.db, names),
		]);
		const attemptsOf = new Map(attempts.map((a) => [a.queue, a]));
		const handlersOf = new Map(handlers.map((h) => [h.queue, h]));
		// A queue deleted between the statements has task figures missing: it is simply left out.
		return tasks.map((t) => ({
			...present(t, attemptsOf.get(t.queue) ?? noAttempts(t.queue), handlersOf.get(t.queue), query),
			throttled: throttled.filter((k) => k.queue === t.queue).map((k) => ({ key: k.key, until: k.until.toISOString() })),
		}));
	}
}

function present(t: TaskFigures, a: AttemptFigures, h: HandlerFigures | undefined, thresholds: HealthThresholds): Omit<QueueHealth, 'throttled'> {
	const handlers = h ?? { queue: t.queue, count: 0, healthy: 0 };
	const { status, reasons } = evaluateStatus(
		{
			oldestQueuedAgeSeconds: t.oldestQueuedAgeSeconds,
			attemptsLastHour: a.attemptsLastHour,
			failuresLastHour: a.failuresLastHour,
			stuck: t.stuckCount,
			deadLetters: t.deadLetters,
			dueForHandlers: t.dueForHandlers,
			handlers,
		},
		thresholds,
	);
	return {
		queue: t.queue,
		status,
		reasons,
		counts: {
			scheduled: t.scheduled,
			queued: t.queued,
			active: t.active,
			retrying: t.retrying,
			completed: t.completed,
			failed: t.failed,
			cancelled: t.cancelled,
		},
		deadLetters: t.deadLetters,
		oldestQueuedAgeSeconds: Math.round(t.oldestQueuedAgeSeconds * 1000) / 1000,
		stuck: { count: t.stuckCount, taskIds: t.stuckIds },
		failuresLastHour: a.failuresLastHour,
		recovered: a.recovered,
		throughputPerMinute: { last5m: perMinute(t.completedLast5m, 5), last60m: perMinute(t.completedLast60m, 60) },
		durationMs: percentiles(a.durationMs),
		latenessMs: percentiles(a.latenessMs),
		handlers: {
			count: handlers.count,
			healthy: handlers.healthy,
			successRate: a.handlerAttempts === 0 ? null : Math.round((a.handlerDelivered / a.handlerAttempts) * 10_000) / 10_000,
		},
		async: { open: t.asyncOpen, missedDeadlinesLastHour: a.missedDeadlinesLastHour },
		paused: t.paused,
	};
}

function noAttempts(queue: string): AttemptFigures {
	return { queue, attemptsLastHour: 0, failuresLastHour: 0, recovered: 0, handlerAttempts: 0, handlerDelivered: 0, durationMs: null, latenessMs: null, missedDeadlinesLastHour: 0 };
}

function perMinute(count: number, minutes: number): number {
	return Math.round((count / minutes) * 100) / 100;
}

function percentiles(values: number[] | null): Percentiles {
	if (!values) return { p50: null, p95: null, p99: null };
	const [p50, p95, p99] = values.map((v) => Math.round(v));
	return { p50, p95, p99 };
}

function totalsOf(queues: QueueHealth[]): AllQueuesHealth['totals'] {
	const sum = (pick: (q: QueueHealth) => number) => queues.reduce((n, q) => n + pick(q), 0);
	return {
		queues: queues.length,
		status: worstStatus(queues.map((q) => q.status)),
		counts: {
			scheduled: sum((q) => q.counts.scheduled),
			queued: sum((q) => q.counts.queued),
			active: sum((q) => q.counts.active),
			retrying: sum((q) => q.counts.retrying),
			completed: sum((q) => q.counts.completed),
			failed: sum((q) => q.counts.failed),
			cancelled: sum((q) => q.counts.cancelled),
		},
		deadLetters: sum((q) => q.deadLetters),
		oldestQueuedAgeSeconds: queues.reduce((m, q) => Math.max(m, q.oldestQueuedAgeSeconds), 0),
		stuck: { count: sum((q) => q.stuck.count), taskIds: queues.flatMap((q) => q.stuck.taskIds).slice(0, 100) },
		failuresLastHour: sum((q) => q.failuresLastHour),
		recovered: sum((q) => q.recovered),
		throughputPerMinute: {
			last5m: Math.round(sum((q) => q.throughputPerMinute.last5m) * 100) / 100,
			last60m: Math.round(sum((q) => q.throughputPerMinute.last60m) * 100) / 100,
		},
	};
}
