import { PgBoss, type Db as IDatabase } from 'pg-boss';
import type { Logger } from '../log.js';
import { connectionSettings, type ConnectionLimits, type Queryable } from '../db/pool.js';
import { HANDLER_GROUP_PREFIX, jobTable, type JobTable } from './jobSql.js';

/**
 * The only module that imports pg-boss. pg-boss carries dispatch — due ordering by priority,
 * SKIP LOCKED claiming, expiry — while the engine's own tables stay the source of truth for tasks
 * and attempts. One pg-boss job is one dispatch of one task attempt: a retry is a new job, due when
 * the engine's retry policy says, so pg-boss's own retry (which cannot honour Retry-After) is off.
 */

/** A dispatch of a task to insert, in the caller's transaction. */
export interface DispatchJob {
	id: string;
	taskId: string;
	priority: number;
	dueAt: Date;
	/** How long pg-boss may keep the job active before it gives up on it; the engine's own rescuer acts sooner. */
	expireInSeconds: number;
	/**
	 * The handler event the task is delivered as (`task`, or `batch` for batch events), or null when it
	 * goes to its own URL. Jobs bound for handlers are grouped per event, so a fetch can hold them back
	 * while the queue has no handler for that event.
	 */
	handlerEvent: HandlerEvent | null;
}

export interface ClaimedJob {
	jobId: string;
	taskId: string;
}

export type HandlerEvent = 'task' | 'batch' | 'dead_letter';
const HANDLER_EVENTS: readonly HandlerEvent[] = ['task', 'batch', 'dead_letter'];
const handlerGroup = (event: HandlerEvent) => `${HANDLER_GROUP_PREFIX}${event}`;

/** The job groups a claim skips: handler events with no handler to take them. */
export function ignoredHandlerGroups(handlerEvents: readonly HandlerEvent[]): string[] {
	return HANDLER_EVENTS.filter((e) => !handlerEvents.includes(e)).map(handlerGroup);
}

function asDatabase(db: Queryable): IDatabase {
	return { executeSql: (text: string, values?: unknown[]) => db.query(text, values) };
}

export class DispatchQueue {
	/** The job table, for the hot-path statements that claim and close jobs themselves (dispatch/jobSql.ts). */
	readonly jobs: JobTable;

	private constructor(
		private readonly boss: PgBoss,
		schema: string,
	) {
		this.jobs = jobTable(schema);
	}

	static async start(connectionString: string, schema: string, log: Logger, limits: ConnectionLimits): Promise<DispatchQueue> {
		const boss = new PgBoss({
			// pg-boss hands these on to its node-postgres pool: the same timeouts and keepalive as ours.
			...(connectionSettings(limits) as Record<string, unknown>),
			connectionString,
			schema,
			application_name: 'task-engine',
			max: 4,
			// The engine schedules with its own precise clock (schedules) and rescues lost deliveries
			// itself; pg-boss keeps supervising expiry and retention of its job rows.
			schedule: false,
			supervise: true,
			migrate: true,
		});
		boss.on('error', (error: Error) => log.error({ err: error }, 'pg-boss error'));
		await boss.start();
		return new DispatchQueue(boss, schema);
	}

	async createQueue(name: string): Promise<void> {
		const existing = await this.boss.getQueue(name);
		if (existing) return;
		await this.boss.createQueue(name, {
			policy: 'standard',
			retryLimit: 0,
			// Our task and attempt rows are the record; pg-boss's finished job rows can go soon.
			deleteAfterSeconds: 3600,
			// Not partitioned: the job lives in the shared table dispatch/jobSql.ts drives directly.
			partition: false,
			retentionSeconds: 400 * 86400,
		});
	}

	async deleteQueue(name: string): Promise<void> {
		await this.boss.deleteQueue(name);
	}

	async insert(db: Queryable, queue: string, jobs: readonly DispatchJob[]): Promise<void> {
		if (jobs.length === 0) return;
		await this.boss.insert(
			queue,
			jobs.map((j) => ({
				id: j.id,
				data: { taskId: j.taskId },
				priority: j.priority,
				startAfter: j.dueAt,
				expireInSeconds: j.expireInSeconds,
				retryLimit: 0,
				group: j.handlerEvent ? { id: handlerGroup(j.handlerEvent) } : undefined,
			})),
			{ db: asDatabase(db) },
		);
	}

	/**
	 * Claims up to `limit` due jobs (highest priority first), marking them active in `db`'s
	 * transaction. Jobs for handler events not in `handlerEvents` (no handler to take them) are skipped.
	 */
	async fetch(db: Queryable, queue: string, limit: number, handlerEvents: readonly HandlerEvent[]): Promise<ClaimedJob[]> {
		if (limit <= 0) return [];
		const ignored = ignoredHandlerGroups(handlerEvents);
		const jobs = await this.boss.fetch<{ taskId: string }>(queue, {
			batchSize: limit,
			db: asDatabase(db),
			...(ignored.length > 0 ? { ignoreGroups: ignored } : {}),
		});
		return jobs.map((j) => ({ jobId: j.id, taskId: j.data.taskId }));
	}

	async complete(db: Queryable, queue: string, jobIds: readonly string[]): Promise<void> {
		if (jobIds.length === 0) return;
		await this.boss.complete(queue, [...jobIds], null, { db: asDatabase(db) });
	}

	/** Withdraws jobs that must not run (cancelled task, deleted queue); jobs already finished are left alone. */
	async cancel(db: Queryable, queue: string, jobIds: readonly string[]): Promise<void> {
		if (jobIds.length === 0) return;
		await this.boss.cancel(queue, [...jobIds], { db: asDatabase(db) });
	}

	async stop(): Promise<void> {
		await this.boss.stop({ graceful: false, timeout: 5000 });
	}
}
