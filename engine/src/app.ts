import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createPool, trackBackends, type Pool } from './db/pool.js';
import { migrate } from './db/migrate.js';
import { Notifications } from './db/notifications.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embeddedPostgres.js';
import { DispatchQueue } from './dispatch/dispatchQueue.js';
import { ApiKeyVerifier, provisionApiKeys, type ApiKeyProvisioning } from './auth/apiKeys.js';
import { QueueCatalog } from './queues/queueCatalog.js';
import { QueueService } from './queues/queueService.js';
import { presentTask, TaskService } from './tasks/taskService.js';
import { DeadLetterService } from './tasks/deadLetterService.js';
import { createDeliveryClient, type DeliveryClient } from './delivery/httpDelivery.js';
import { SettlementWriter } from './delivery/settlement.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { DeliveryRescuer } from './maintenance/deliveryRescuer.js';
import { EngineHeartbeat } from './maintenance/engineHeartbeat.js';
import { RetentionCleaner } from './maintenance/retentionCleaner.js';
import { exposedCollector, IdleMemory } from './maintenance/idleMemory.js';
import { TEST_HANDLER_EXPIRY_INTERVAL_MS, TestHandlerExpiry } from './maintenance/testHandlerExpiry.js';
import { HealthService } from './health/healthService.js';
import { checkReadiness } from './health/readiness.js';
import type { EngineMetrics } from './metrics/engineMetrics.js';
import { createEngineMetrics } from './metrics/engineWiring.js';
import { ServiceLoop } from './maintenance/serviceLoop.js';
import { buildServer } from './api/server.js';
import { healthRoutes } from './api/routes/health.js';
import { queueRoutes } from './api/routes/queues.js';
import { taskRoutes } from './api/routes/tasks.js';
import { attemptReportRoutes } from './api/routes/attemptReports.js';
import { AttemptReports } from './tasks/attemptReports.js';
import { DeadLetterEvents } from './tasks/deadLetterEvents.js';
import { deadLetterRoutes } from './api/routes/deadLetters.js';
import { queueHealthRoutes } from './api/routes/queueHealth.js';
import { metricsRoutes } from './api/routes/metrics.js';
import { batchRoutes } from './api/routes/batches.js';
import { BatchService } from './batches/batchService.js';
import { ScheduleService } from './schedules/scheduleService.js';
import { SCHEDULE_TICK_MS, ScheduleEnqueuer } from './schedules/scheduleEnqueuer.js';
import { scheduleRoutes } from './api/routes/schedules.js';
import { dashboardRoutes } from './api/routes/dashboard.js';
import { whoAmIRoutes } from './api/routes/whoami.js';
import { DomainError } from './errors.js';
import { DEFAULT_EVENT_STREAM_SETTINGS, EventHub, type EventStreamSettings } from './events/eventHub.js';
import { eventRoutes } from './api/routes/events.js';
import { queueHistoryRoutes } from './api/routes/queueHistory.js';
import { EVENT_LOG_TRIM_INTERVAL_MS, EventLogTrimmer } from './maintenance/eventLogTrimmer.js';
import { TaskEvents } from './tasks/taskEvents.js';

/** A running engine: its parts (tests drive them directly) and how to stop it. */
export interface Engine {
	readonly config: Config;
	readonly engineId: string;
	readonly server: FastifyInstance;
	readonly pool: Pool;
	readonly queues: QueueService;
	readonly tasks: TaskService;
	readonly dispatcher: Dispatcher;
	readonly rescuer: DeliveryRescuer;
	readonly health: HealthService;
	readonly metrics: EngineMetrics;
	readonly retention: RetentionCleaner;
	/** Gives the heap back when idle (maintenance/idleMemory.ts). */
	readonly memory: IdleMemory;
	readonly testHandlerExpiry: TestHandlerExpiry;
	readonly schedules: ScheduleService;
	readonly batches: BatchService;
	readonly scheduleEnqueuer: ScheduleEnqueuer;
	readonly events: TaskEvents;
	/** The live event stream's hub (GET /v1/events). */
	readonly liveEvents: EventHub;
	readonly eventLogTrimmer: EventLogTrimmer;
	readonly keys: ApiKeyProvisioning;
	/** The database URL in use (the embedded one when none was configured). */
	readonly databaseUrl: string;
	readonly embedded: EmbeddedPostgres | null;
	stop(): Promise<void>;
}

export interface EngineOptions {
	/** Start the background loops (dispatcher, rescuer, heartbeat). Tests of the API alone may skip them. */
	background?: boolean;
	/** Delivery client override (tests use the real one with other limits). */
	deliveryClient?: DeliveryClient;
	/** Event stream settings (tests shorten the ping and stats intervals). */
	eventStream?: Partial<EventStreamSettings>;
}

/**
 * The composition root: config → database → pg-boss → services → background work → HTTP routes,
 * in that order. `main.ts` only calls this, listens, and stops it on a signal.
 */
export async function createEngine(config: Config, log: Logger, options: EngineOptions = {}): Promise<Engine> {
	for (const warning of config.warnings) log.warn(warning);
	const embedded = config.databaseUrl
		? null
		: await startEmbeddedPostgres({
				dataDir: config.dataDir,
				port: config.embeddedPgPort,
				sharedDir: config.embeddedPgSharedDir,
				log: log.child({ component: 'embedded-postgres' }),
			});
	const databaseUrl = config.databaseUrl ?? (embedded as EmbeddedPostgres).connectionString;
	const schema = config.databaseSchema;
	const engineId = randomUUID();
	const closers: (() => Promise<unknown>)[] = [];
	const closeAll = async () => {
		for (const close of closers.reverse()) await close().catch((error: unknown) => log.warn({ err: error }, 'error while stopping'));
		await embedded?.stop();
	};

	try {
		const pool = createPool(databaseUrl, schema, config.connectionLimits);
		const isOwnBackend = trackBackends(pool);
		closers.push(() => pool.end());
		await pool.query('SELECT 1');
		const applied = await migrate(pool, schema);
		if (applied.length > 0) log.info({ versions: applied }, 'database migrated');

		const dispatch = await DispatchQueue.start(databaseUrl, `${schema}_pgboss`, log.child({ component: 'pg-boss' }), config.connectionLimits);
		closers.push(() => dispatch.stop());

		const keys = await provisionApiKeys(pool, config.apiKeys, config.dataDir);
		if (keys.revoked > 0) {
			log.info({ revoked: keys.revoked }, config.apiKeys.length > 0 ? 'API keys not in API_KEYS were revoked' : 'API_KEYS is unset: only the generated key is valid; the others were revoked');
		}
		const verifier = new ApiKeyVerifier(pool);
		await verifier.reload();

		const notifications = new Notifications(databaseUrl, schema, log.child({ component: 'notifications' }), isOwnBackend, config.connectionLimits);
		await notifications.start();
		closers.push(() => notifications.stop());

		const catalog = new QueueCatalog(pool);
		await catalog.loadAll();
		const queues = new QueueService(pool, dispatch, schema, config.targetPolicy);
		const deliveryClient = options.deliveryClient ?? createDeliveryClient({ resultLimitBytes: config.resultLimitBytes, snippetLimitBytes: config.resultLimitBytes, targetPolicy: config.targetPolicy });
		closers.push(async () => deliveryClient.close());
		const events = new TaskEvents();
		const settlement = new SettlementWriter(pool, dispatch, schema, log.child({ component: 'settlement' }), events);
		const dispatcher = new Dispatcher(pool, dispatch, catalog, settlement, deliveryClient, log.child({ component: 'dispatcher' }), {
			schema,
			engineId,
			deliveryConcurrency: config.deliveryConcurrency,
			pollIntervalMs: config.pollIntervalMs,
			leaseGraceSeconds: config.leaseGraceSeconds,
			engineDeadAfterSeconds: config.engineDeadAfterSeconds,
		});

		/** The queue a request names, from the catalog (reloaded on a miss); 404 naming `field` when there is none. */
		const existingQueue = async (name: string, field: string) => {
			const entry = catalog.get(name) ?? (await catalog.reload(name));
			if (entry) return entry.queue;
			throw new DomainError(404, 'queue_not_found', `Queue "${name}" does not exist`, [{ field, message: `${field} "${name}" does not exist` }]);
		};

		const tasks = new TaskService({
			pool,
			dispatch,
			schema,
			limits: config,
			// Only a task creates its queue on first use (AUTO_CREATE_QUEUES); batches and schedules are set up on purpose.
			resolveQueue: async (name, field) =>
				config.autoCreateQueues && !catalog.get(name) ? queues.ensure(name) : existingQueue(name, field),
			onEnqueued: (queue, handlerOnly) => dispatcher.wakeForNewTasks(queue, handlerOnly ?? false),
			events,
			log: log.child({ component: 'tasks' }),
		});
		const reports = new AttemptReports({
			pool,
			dispatch,
			schema,
			events,
			onSettled: (queue) => dispatcher.wake(queue),
			// Metrics are wired further down; reports arrive only once the API is up.
			onReport: (queue, kind) => metrics.observeReport(queue, kind),
		});
		new DeadLetterEvents({ dispatch, schema, catalog, idempotencyWindowSeconds: config.idempotencyWindowSeconds }).listen(events);

		// Batches count their chunks in the task hooks of `events` (registered by the constructor).
		const batches = new BatchService({
			pool,
			dispatch,
			schema,
			limits: config,
			events,
			resolveQueue: existingQueue,
			onEnqueued: (queue) => dispatcher.wake(queue),
		});

		const scheduleEnqueuer = new ScheduleEnqueuer(pool, dispatch, schema, config, log.child({ component: 'schedules' }), (queue) => dispatcher.wake(queue));
		const schedules = new ScheduleService({ pool, dispatch, schema, limits: config, onEnqueued: (queue) => dispatcher.wake(queue), onChanged: options.background === false ? undefined : () => scheduleEnqueuer.nudge() });

		// This engine already woke its dispatcher for its own writes; only other engines' news counts.
		notifications.on('tasks', (queue, own) => {
			if (!own) dispatcher.wake(queue);
		});
		notifications.on('queues', (queue) => void catalog.reload(queue).catch((error: unknown) => log.warn({ err: error, queue }, 'queue reload failed')));
		notifications.onReconnect(() => void catalog.loadAll().then(() => dispatcher.wakeAll(), () => undefined));

		const heartbeat = new EngineHeartbeat(pool, engineId);
		const rescuer = new DeliveryRescuer(pool, dispatch, {
			schema,
			engineDeadAfterSeconds: config.engineDeadAfterSeconds,
			ownEngineId: engineId,
			mayJudgeEngines: () => heartbeat.beatingForMs >= config.engineDeadAfterSeconds * 1000,
			isInFlightHere: (taskId) => dispatcher.isInFlight(taskId),
			events,
			log: log.child({ component: 'rescuer' }),
		});
		const health = new HealthService(pool, { schema, dispatchSchema: `${schema}_pgboss`, stuckGraceSeconds: config.leaseGraceSeconds });
		const metrics = createEngineMetrics({ health, dispatcher, rescuer });
		batches.reportTo(metrics);
		scheduleEnqueuer.reportTo(metrics);
		const retention = new RetentionCleaner(pool, { completedDays: config.retentionCompletedDays, failedDays: config.retentionFailedDays }, log.child({ component: 'retention' }), metrics);
		const testHandlerExpiry = new TestHandlerExpiry(pool, schema);
		const eventSettings: EventStreamSettings = { ...DEFAULT_EVENT_STREAM_SETTINGS, ...options.eventStream };
		const liveEvents = new EventHub({
			pool,
			notifications,
			settings: eventSettings,
			stuckGraceSeconds: config.leaseGraceSeconds,
			log: log.child({ component: 'events' }),
			// A dead letter's event carries the task as GET /v1/tasks/{id} shows it; a task deleted since has none.
			loadTask: async (id) => {
				try {
					const { task, attempts } = await tasks.get(id);
					return presentTask(task, attempts);
				} catch (error) {
					if (error instanceof DomainError && error.status === 404) return null;
					throw error;
				}
			},
		});
		const eventLogTrimmer = new EventLogTrimmer(pool, eventSettings.windowSeconds);
		const loops: ServiceLoop[] = [];
		const idleMemory = new IdleMemory(exposedCollector(), log.child({ component: 'memory' }));
		if (options.background !== false) {
			await heartbeat.register();
			closers.push(() => heartbeat.unregister());
			// Rescued tasks are due again: wake the dispatcher rather than wait for its safety poll.
			const rescueAndWake = {
				name: rescuer.name,
				runOnce: async () => {
					const counts = await rescuer.runOnce();
					if (counts.rescued > 0) dispatcher.wakeAll();
					return counts;
				},
			};
			loops.push(new ServiceLoop(heartbeat, 5000, log), new ServiceLoop(rescueAndWake, 5000, log));
			loops.push(new ServiceLoop(retention, config.retentionIntervalSeconds * 1000, log));
			loops.push(new ServiceLoop(testHandlerExpiry, TEST_HANDLER_EXPIRY_INTERVAL_MS, log));
			loops.push(new ServiceLoop({ name: 'catalogRefresh', runOnce: async () => (await catalog.loadAll(), {}) }, 30_000, log));
			// Fires are logged at debug by the enqueuer itself, not as an info line per tick.
			loops.push(new ServiceLoop({ name: scheduleEnqueuer.name, runOnce: async () => (await scheduleEnqueuer.runOnce(), {}) }, SCHEDULE_TICK_MS, log));
			loops.push(new ServiceLoop({ name: 'batchReconciler', runOnce: () => batches.reconcileOnce() }, 10_000, log));
			// Trimming the event log is routine: not an info line every 30 s.
			loops.push(new ServiceLoop({ name: eventLogTrimmer.name, runOnce: async () => (await eventLogTrimmer.runOnce(), {}) }, EVENT_LOG_TRIM_INTERVAL_MS, log));
			for (const loop of loops) loop.start();
			dispatcher.start();
			idleMemory.start();
		}

		const server = await buildServer({
			log,
			bodyLimitBytes: config.bodyLimitBytes,
			payloadMaxDepth: config.payloadMaxDepth,
			verifier,
			metricsAuth: config.metricsAuth,
			routes: async (app) => {
				await app.register(metricsRoutes(metrics)); // first: its response hook counts every route
				await app.register(healthRoutes({ check: () => checkReadiness(pool) }));
				await app.register(queueRoutes(queues));
				await app.register(taskRoutes(tasks));
				await app.register(attemptReportRoutes(reports));
				await app.register(deadLetterRoutes(new DeadLetterService(pool, tasks)));
				await app.register(queueHealthRoutes(health));
				await app.register(batchRoutes(batches));
				await app.register(scheduleRoutes(schedules));
				await app.register(eventRoutes(liveEvents, verifier));
				await app.register(queueHistoryRoutes(pool));
				await app.register(whoAmIRoutes());
				await app.register(dashboardRoutes());
			},
		});

		let stopped: Promise<void> | null = null;
		return {
			config,
			engineId,
			server,
			pool,
			queues,
			tasks,
			dispatcher,
			rescuer,
			memory: idleMemory,
			health,
			metrics,
			retention,
			testHandlerExpiry,
			schedules,
			scheduleEnqueuer,
			batches,
			events,
			liveEvents,
			eventLogTrimmer,
			keys,
			databaseUrl,
			embedded,
			stop: () =>
				(stopped ??= (async () => {
					await server.close();
					idleMemory.stop();
					await dispatcher.stop(config.shutdownGraceSeconds * 1000);
					for (const loop of loops) await loop.stop();
					await closeAll();
				})()),
		};
	} catch (error) {
		await closeAll();
		throw error;
	}
}
