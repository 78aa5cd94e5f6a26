import type { OriginMetrics } from '../metrics/engineMetrics.js';
import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import type { MaintenanceService } from '../maintenance/serviceLoop.js';
import { getQueue, type QueueRow } from '../queues/queueSql.js';
import { prepareTask, writeTasks, type EnqueueLimits } from '../tasks/enqueue.js';
import type { NewTask, TaskRow } from '../tasks/taskSql.js';
import { planFires, type FirePlan, type PreviousRun } from './firePlan.js';
import { enqueueInputOf, recurrenceOf } from './scheduleDefinition.js';
import { advanceSchedules, databaseNow, lockDueSchedules, previousRuns, type Advance, type ScheduleRow } from './scheduleSql.js';

/** How often each engine looks for occurrences to fire; well inside the lookahead. */
export const SCHEDULE_TICK_MS = 1000;

export interface ScheduleEnqueuerOptions {
	/** Occurrences up to this far ahead become tasks now, due at their instant (default 5 s). */
	lookaheadMs?: number;
	/** An occurrence overdue by at most this much still fires; older ones are missed (default 30 s). */
	misfireGraceMs?: number;
	/** Schedules per transaction (default 100). */
	batchSize?: number;
}

interface Counts {
	fired: number;
	missed: number;
	overlapSkipped: number;
	failed: number;
}

/**
 * Turns schedule occurrences into tasks. Every engine runs it; a schedule row is locked (SKIP
 * LOCKED) by one engine at a time, and the transaction that inserts an occurrence's tasks also moves
 * `next_fire_at` past it with a compare-and-set, so each occurrence becomes exactly one task however
 * many engines run and however often they restart. Tasks are written a few seconds ahead, due at
 * their occurrence, so the dispatcher's due-time timer — not this loop's period — sets the lateness.
 */
export class ScheduleEnqueuer implements MaintenanceService {
	readonly name = 'scheduleEnqueuer';
	/** Tasks created for occurrences by this process, for metrics. */
	firesTotal = 0;
	private metrics: OriginMetrics | undefined;

	/** Where fires are counted (`/metrics`); set once at start-up. */
	reportTo(metrics: OriginMetrics): void {
		this.metrics = metrics;
	}
	/** Misfires (overdue occurrences dropped) and overlap skips seen by this process. */
	missedTotal = 0;
	overlapSkippedTotal = 0;
	private readonly lookaheadMs: number;
	private readonly misfireGraceMs: number;
	private readonly batchSize: number;

	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly schema: string,
		private readonly limits: EnqueueLimits,
		private readonly log: Logger,
		private readonly onEnqueued: (queue: string) => void = () => undefined,
		options: ScheduleEnqueuerOptions = {},
	) {
		this.lookaheadMs = options.lookaheadMs ?? 5000;
		this.misfireGraceMs = options.misfireGraceMs ?? 30_000;
		this.batchSize = options.batchSize ?? 100;
	}

	/** Fires what is due; `now` replaces the database clock (tests drive missed occurrences with it). */
	async runOnce(now?: Date): Promise<Record<string, number>> {
		const counts: Counts = { fired: 0, missed: 0, overlapSkipped: 0, failed: 0 };
		const seen: string[] = [];
		for (let round = 0; round < 10; round++) {
			const batch = await this.runBatch(now, seen);
			for (const key of Object.keys(counts) as (keyof Counts)[]) counts[key] += batch.counts[key];
			if (batch.locked < this.batchSize) break;
		}
		return { ...counts };
	}

	/** A run now, outside the loop's rhythm (a schedule was just created or changed). */
	nudge(): void {
		this.runOnce().catch((error: unknown) => this.log.error({ err: error }, 'firing schedules failed'));
	}

	private async runBatch(now: Date | undefined, seen: string[]): Promise<{ locked: number; counts: Counts }> {
		const counts: Counts = { fired: 0, missed: 0, overlapSkipped: 0, failed: 0 };
		const fired: { schedule: ScheduleRow; task: TaskRow }[] = [];
		const locked = await withTransaction(this.pool, async (tx) => {
			const at = await databaseNow(tx, now);
			const due = await lockDueSchedules(tx, at, this.lookaheadMs, this.batchSize, seen);
			const previous = await previousRuns(tx, due.filter((s) => s.overlap === 'skip').map((s) => s.id), at);
			const queues = new Map<string, QueueRow | null>();
			const advances: Advance[] = [];
			const tasksOf = new Map<string, NewTask[]>();
			for (const s of due) {
				seen.push(s.id);
				const plan = this.plan(s, at, previous.get(s.id) ?? 'none');
				if (!queues.has(s.queue)) queues.set(s.queue, await getQueue(tx, s.queue));
				const tasks = this.tasksFor(s, plan, queues.get(s.queue) ?? null, counts);
				tasksOf.set(s.id, tasks);
				counts.missed += plan.missed;
				counts.overlapSkipped += plan.overlapSkipped;
				if (plan.missed > 0) this.log.info({ scheduleId: s.id, schedule: s.name, misfire: s.misfire }, 'schedule missed occurrences while no engine could fire them');
				const last = plan.fires.length > 0 ? plan.fires[plan.fires.length - 1] : null;
				advances.push({ id: s.id, expected: s.nextFireAt as Date, next: plan.nextFireAt, lastFireAt: last, fired: tasks.length });
			}
			// Only schedules whose compare-and-set held get their tasks written.
			const moved = await advanceSchedules(tx, advances);
			const writes = due.filter((s) => moved.has(s.id)).flatMap((schedule) => (tasksOf.get(schedule.id) ?? []).map((task) => ({ schedule, task })));
			const results = await writeTasks(tx, this.dispatch, this.schema, writes.map((w) => w.task), this.limits.idempotencyWindowSeconds, () => '');
			results.forEach((r, i) => 'task' in r && fired.push({ schedule: writes[i].schedule, task: r.task }));
			return due.length;
		});
		for (const { schedule, task } of fired) {
			this.log.debug({ scheduleId: schedule.id, schedule: schedule.name, occurrence: task.schedule?.occurrence, taskId: task.id, queue: task.queue, dueAt: task.dueAt }, 'schedule fired');
		}
		counts.fired = fired.length;
		this.firesTotal += counts.fired;
		this.missedTotal += counts.missed;
		this.overlapSkippedTotal += counts.overlapSkipped;
		for (const { task } of fired) this.metrics?.scheduleFired(task.queue);
		for (const queue of new Set(fired.map((f) => f.task.queue))) this.onEnqueued(queue);
		return { locked, counts };
	}

	private plan(s: ScheduleRow, now: Date, previous: PreviousRun): FirePlan {
		try {
			return planFires({
				recurrence: recurrenceOf(s, s.createdAt),
				nextFireAt: s.nextFireAt as Date,
				now,
				misfire: s.misfire,
				overlap: s.overlap,
				previous,
				lookaheadMs: this.lookaheadMs,
				misfireGraceMs: this.misfireGraceMs,
				maxFires: 100,
			});
		} catch (error) {
			// Only a cron expression cron-parser cannot step through (in this zone) gets here: the
			// schedule stops (nextFireAt null) rather than failing every engine's loop every second.
			this.log.error({ err: error, scheduleId: s.id, schedule: s.name }, 'cannot compute the next occurrence; the schedule stops');
			return { fires: [], nextFireAt: null, missed: 0, overlapSkipped: 0 };
		}
	}

	/** The tasks of a plan, built as an API enqueue would build them; an occurrence that fails its checks is skipped and logged. */
	private tasksFor(s: ScheduleRow, plan: FirePlan, queue: QueueRow | null, counts: Counts): NewTask[] {
		const tasks: NewTask[] = [];
		for (const occurrence of plan.fires) {
			try {
				if (!queue) throw new Error(`queue "${s.queue}" does not exist`);
				const task = prepareTask(enqueueInputOf(s, occurrence), queue, this.limits);
				task.schedule = { id: s.id, name: s.name, occurrence: occurrence.toISOString() };
				tasks.push(task);
			} catch (error) {
				counts.failed += 1;
				this.log.warn({ err: error, scheduleId: s.id, schedule: s.name, occurrence }, 'schedule occurrence skipped: its task is not valid');
			}
		}
		return tasks;
	}
}
