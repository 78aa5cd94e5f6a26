import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Settled } from '../delivery/settlement.js';
import type { DeliveryOutcome } from '../delivery/httpDelivery.js';
import type { TaskRow } from '../tasks/taskSql.js';
import type { QueueDepthFigures } from '../health/healthSql.js';

/**
 * What schedules and batches report as they happen. Those modules receive `engine.metrics` (or
 * nothing, in tests of their own) and call these; the counters appear in `/metrics`.
 */
export interface OriginMetrics {
	/** Occurrences a schedule turned into tasks (count > 1 when a misfire catches up). */
	scheduleFired(queue: string, count?: number): void;
	/** `chunks` chunks of a batch reached a final state, carrying `items` items. */
	batchChunksFinished(queue: string, state: 'completed' | 'failed', chunks: number, items: number): void;
	/** A batch finished (`completed`, `completed_with_failures`, `failed`, `cancelled`). */
	batchFinished(queue: string, state: string): void;
}

/** Per-queue figures a scrape reads from the database (HealthService.queueDepths). */
export type QueueDepth = Pick<QueueDepthFigures, 'queue' | 'scheduled' | 'queued' | 'active' | 'retrying' | 'deadLetters' | 'oldestQueuedAgeSeconds' | 'stuckCount' | 'asyncOpen' | 'parked' | 'throttledKeys'>;

/**
 * Process metrics (CPU, memory, event loop, GC) belong to the process, not to an engine: they are
 * collected once into a registry of their own — still not prom-client's global one — and appended
 * to every engine's exposition. Collecting them per engine would start another event-loop monitor
 * and GC observer for each engine a test process creates.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
	if (!processRegistry) {
		processRegistry = new Registry();
		collectDefaultMetrics({ register: processRegistry });
	}
	return processRegistry;
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const LATENESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * The engine's Prometheus metrics, in a registry of its own (never prom-client's global one), so
 * several engines in one process — tests do that — keep separate figures. Counters move as things
 * happen in this process; queue depths are read from the database on each scrape, so every engine
 * reports the same, current depths.
 */
export class EngineMetrics implements OriginMetrics {
	readonly registry = new Registry();
	private readonly scrapeHooks: (() => Promise<void>)[] = [];

	private readonly deliveries = this.counter('task_engine_deliveries_total', 'Delivery attempts by queue, outcome (delivered|retry|failed) and HTTP status class (2xx…5xx, or none with an error class)', ['queue', 'outcome', 'status_class', 'error_class']);
	private readonly deliveryDuration = new Histogram({ name: 'task_engine_delivery_duration_seconds', help: 'Duration of delivery attempts', labelNames: ['queue', 'outcome'], buckets: SECONDS_BUCKETS, registers: [this.registry] });
	private readonly lateness = new Histogram({ name: 'task_engine_delivery_lateness_seconds', help: 'Attempt start minus the time the task was due (database clock)', labelNames: ['queue'], buckets: LATENESS_BUCKETS, registers: [this.registry] });
	private readonly retries = this.counter('task_engine_retries_total', 'Failed attempts whose task was scheduled for another attempt', ['queue']);
	private readonly deadLettered = this.counter('task_engine_dead_lettered_total', 'Tasks that became dead letters after a delivery attempt', ['queue']);
	private readonly rescued = this.counter('task_engine_rescued_total', 'Lost deliveries (engine died, lease ran out) settled by this engine', []);
	private readonly purged = this.counter('task_engine_retention_purged_total', 'Tasks (with their attempts) deleted by retention, by the state they were in', ['state']);
	private readonly scheduleFires = this.counter('task_engine_schedule_fires_total', 'Schedule occurrences turned into tasks', ['queue']);
	private readonly batchChunks = this.counter('task_engine_batch_chunks_total', 'Batch chunks that reached a final state', ['queue', 'state']);
	private readonly batchItems = this.counter('task_engine_batch_items_total', 'Items of batch chunks that reached a final state', ['queue', 'state']);
	private readonly batches = this.counter('task_engine_batches_finished_total', 'Batches that finished, by final state', ['queue', 'state']);
	private readonly httpRequests = this.counter('task_engine_http_requests_total', 'HTTP API requests by method, route and status code', ['method', 'route', 'status']);
	private readonly httpDuration = new Histogram({ name: 'task_engine_http_request_duration_seconds', help: 'HTTP API response time', labelNames: ['method', 'route'], buckets: SECONDS_BUCKETS, registers: [this.registry] });

	private readonly depth = this.gauge('task_engine_queue_tasks', 'Tasks waiting or in flight, by queue and state (scheduled|queued|active|retrying)', ['queue', 'state']);
	private readonly deadLetters = this.gauge('task_engine_dead_letters', 'Dead letters (failed tasks) kept, by queue', ['queue']);
	private readonly oldestAge = this.gauge('task_engine_oldest_queued_age_seconds', 'How long the oldest due task of a queue has waited', ['queue']);
	private readonly stuck = this.gauge('task_engine_stuck_tasks', 'Active tasks past their timeout and grace', ['queue']);
	private readonly asyncOpen = this.gauge('task_engine_async_open_attempts', 'Attempts the handler answered with 202 and has not reported on yet', ['queue']);
	private readonly parked = this.gauge('task_engine_parked_tasks', 'Queued tasks waiting behind their concurrency key (its limit, rate window or throttle)', ['queue']);
	private readonly throttledKeys = this.gauge('task_engine_throttled_keys', "Keys a handler's 429/503 with Retry-After holds back now (the whole queue counts as one)", ['queue']);
	private readonly reports = this.counter('task_engine_async_reports_total', 'Reports of handlers on attempts, by kind (complete|fail|heartbeat)', ['queue', 'kind']);
	private readonly missedDeadlines = this.counter('task_engine_async_missed_deadlines_total', 'Async attempts this engine ended at their deadline, without a report', []);

	private readonly process: Registry | undefined;

	constructor(options: { processMetrics?: boolean; rescuedTotal?: () => number } = {}) {
		this.process = options.processMetrics === false ? undefined : processMetrics();
		const rescuedTotal = options.rescuedTotal;
		if (rescuedTotal) {
			// The rescuer keeps its own running total; a scrape copies it.
			this.onScrape(async () => {
				const delta = rescuedTotal() - ((await this.rescued.get()).values[0]?.value ?? 0);
				if (delta > 0) this.rescued.inc(delta);
			});
		}
	}

	/** Runs before every scrape (database-backed gauges). */
	onScrape(hook: () => Promise<void>): void {
		this.scrapeHooks.push(hook);
	}

	/** The Prometheus text exposition: this engine's metrics, then the process's. */
	async render(): Promise<string> {
		await Promise.all(this.scrapeHooks.map((hook) => hook()));
		const own = await this.registry.metrics();
		return this.process ? `${own}\n${await this.process.metrics()}` : own;
	}

	get contentType(): string {
		return this.registry.contentType;
	}

	/** A dispatcher observer: one call per attempt, after its result is durable, with settlement's own decision. */
	observeDelivery(task: TaskRow, outcome: DeliveryOutcome, settled: Settled | 'released'): void {
		const queue = task.queue;
		const statusCode = outcome.statusCode;
		const errorClass = outcome.kind === 'delivered' || outcome.kind === 'accepted' ? 'none' : (outcome.errorClass ?? 'none');
		this.deliveries.inc({ queue, outcome: outcome.kind, status_class: statusCode ? `${Math.floor(statusCode / 100)}xx` : 'none', error_class: errorClass });
		this.deliveryDuration.observe({ queue, outcome: outcome.kind }, outcome.durationMs / 1000);
		if (task.startedAt) this.lateness.observe({ queue }, Math.max(0, task.startedAt.getTime() - task.dueAt.getTime()) / 1000);
		// A released attempt (shutdown, handler gone or starting) was given back: neither a retry nor a dead letter.
		if (settled === 'retrying') this.retries.inc({ queue });
		else if (settled === 'failed') this.deadLettered.inc({ queue });
	}

	observeHttp(method: string, route: string, status: number, seconds: number): void {
		this.httpRequests.inc({ method, route, status: String(status) });
		this.httpDuration.observe({ method, route }, seconds);
	}

	retentionPurged(state: string, count: number): void {
		if (count > 0) this.purged.inc({ state }, count);
	}

	scheduleFired(queue: string, count = 1): void {
		this.scheduleFires.inc({ queue }, count);
	}

	batchChunksFinished(queue: string, state: 'completed' | 'failed', chunks: number, items: number): void {
		if (chunks > 0) this.batchChunks.inc({ queue, state }, chunks);
		if (items > 0) this.batchItems.inc({ queue, state }, items);
	}

	batchFinished(queue: string, state: string): void {
		this.batches.inc({ queue, state });
	}

	/** Replaces the depth gauges with a fresh reading (queues that are gone disappear). */
	setQueueDepths(depths: readonly QueueDepth[]): void {
		for (const gauge of [this.depth, this.deadLetters, this.oldestAge, this.stuck, this.asyncOpen, this.parked, this.throttledKeys]) gauge.reset();
		for (const d of depths) {
			for (const state of ['scheduled', 'queued', 'active', 'retrying'] as const) this.depth.set({ queue: d.queue, state }, d[state]);
			this.deadLetters.set({ queue: d.queue }, d.deadLetters);
			this.oldestAge.set({ queue: d.queue }, d.oldestQueuedAgeSeconds);
			this.stuck.set({ queue: d.queue }, d.stuckCount);
			this.asyncOpen.set({ queue: d.queue }, d.asyncOpen);
			this.parked.set({ queue: d.queue }, d.parked);
			this.throttledKeys.set({ queue: d.queue }, d.throttledKeys);
		}
	}

	/** A handler's report on an attempt (tasks/attemptReports.ts). */
	observeReport(queue: string, kind: string): void {
		this.reports.inc({ queue, kind });
	}

	/** Async attempts ended at their deadline since the last call (the rescuer's count). */
	missedDeadline(count: number): void {
		if (count > 0) this.missedDeadlines.inc(count);
	}

	private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
		return new Counter({ name, help, labelNames, registers: [this.registry] });
	}

	private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
		return new Gauge({ name, help, labelNames, registers: [this.registry] });
	}
}
