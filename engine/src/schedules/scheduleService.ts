import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { cancelDispatchJobs } from '../tasks/dispatchJobs.js';
import { withdrawScheduleTasksAhead } from '../tasks/taskSql.js';
import { conflict, DomainError, invalidField, notFound } from '../errors.js';
import { getQueue, type QueueRow } from '../queues/queueSql.js';
import { conflictError, prepareTask, writeTasks, type EnqueueLimits } from '../tasks/enqueue.js';
import type { TaskRow } from '../tasks/taskSql.js';
import { occurrencesAfter } from './occurrences.js';
import { DEFAULTS, enqueueInputOf, mergeInput, previewValues, recurrenceOf, sameDefinition, type PreviewInput, type ScheduleInput } from './scheduleDefinition.js';
import * as sql from './scheduleSql.js';
import type { ScheduleRow, ScheduleValues } from './scheduleSql.js';

export interface ScheduleServiceDeps {
	pool: Pool;
	dispatch: DispatchQueue;
	schema: string;
	limits: EnqueueLimits;
	/** After a schedule was created or changed: fire what is due now instead of at the next tick. */
	onChanged?: () => void;
	/** After a task was written (run now), to wake this engine's dispatcher at once. */
	onEnqueued?: (queue: string) => void;
}

/** Schedules: the CRUD behind /v1/schedules, pause/resume, run now and the fire-time preview. */
export class ScheduleService {
	constructor(private readonly deps: ScheduleServiceDeps) {}

	async create(input: ScheduleInput & { name: string; queue: string }): Promise<ScheduleRow> {
		const row = await withTransaction(this.deps.pool, async (tx) => {
			const values = await this.validated(tx, { ...DEFAULTS }, input);
			const now = await sql.databaseNow(tx);
			values.nextFireAt = this.firstFire(values, now, now);
			return sql.insertSchedule(tx, randomUUID(), values);
		});
		if (!row) throw nameTaken(input.name);
		this.deps.onChanged?.();
		return row;
	}

	/** `PUT /v1/schedules/by-name/{name}`: creates the schedule, or updates it when the name exists. */
	async upsert(name: string, input: Omit<ScheduleInput, 'name'>): Promise<{ schedule: ScheduleRow; created: boolean }> {
		for (;;) {
			const existing = await sql.getScheduleByName(this.deps.pool, name);
			if (existing) return { schedule: await this.update(existing.id, input), created: false };
			try {
				return { schedule: await this.create({ ...input, name, queue: input.queue as string }), created: true };
			} catch (error) {
				// Created by someone else a moment ago: update that one instead.
				if (!(error instanceof DomainError && error.code === 'schedule_exists')) throw error;
			}
		}
	}

	async get(id: string): Promise<ScheduleRow> {
		const row = await sql.getSchedule(this.deps.pool, id);
		if (!row) throw notFound('Schedule', id);
		return row;
	}

	async getByName(name: string): Promise<ScheduleRow> {
		const row = await sql.getScheduleByName(this.deps.pool, name);
		if (!row) throw notFound('Schedule', name);
		return row;
	}

	async list(filter: { queue?: string; after: string | null; limit: number }): Promise<{ items: ScheduleRow[]; next: string | null }> {
		const rows = await sql.listSchedules(this.deps.pool, { ...filter, limit: filter.limit + 1 });
		const items = rows.slice(0, filter.limit);
		return { items, next: rows.length > filter.limit ? items[items.length - 1].name : null };
	}

	/** Changes a schedule and recomputes its next fire time (an update that changes nothing is a no-op). */
	async update(id: string, input: ScheduleInput): Promise<ScheduleRow> {
		const row = await this.change(id, async (tx, current) => {
			const values = await this.validated(tx, current, input);
			if (sameDefinition(values, current)) return current;
			const lastFireAt = await this.withdrawAhead(tx, current);
			const now = await sql.databaseNow(tx);
			values.lastFireAt = lastFireAt;
			values.nextFireAt = this.firstFire(values, current.createdAt, laterOf(now, lastFireAt));
			return this.rewrite(tx, id, values);
		});
		this.deps.onChanged?.();
		return row;
	}

	/** Pausing also withdraws a task already created for an occurrence still to come. */
	async setPaused(id: string, paused: boolean): Promise<ScheduleRow> {
		const row = await this.change(id, async (tx, current) => {
			if (current.paused === paused) return current;
			const lastFireAt = paused ? await this.withdrawAhead(tx, current) : current.lastFireAt;
			const now = await sql.databaseNow(tx);
			const values = { ...current, paused, lastFireAt };
			values.nextFireAt = paused ? null : this.firstFire(values, current.createdAt, laterOf(now, lastFireAt));
			return this.rewrite(tx, id, values);
		});
		if (!paused) this.deps.onChanged?.();
		return row;
	}

	async delete(id: string): Promise<void> {
		await this.change(id, async (tx, current) => {
			await this.withdrawAhead(tx, current);
			await sql.deleteSchedule(tx, id);
			return current;
		});
	}

	/** One task now, whether or not the schedule is paused; its occurrence is now (database clock). */
	async runNow(id: string): Promise<TaskRow> {
		const task = await withTransaction(this.deps.pool, async (tx) => {
			const schedule = await sql.getSchedule(tx, id, true);
			if (!schedule) throw notFound('Schedule', id);
			const queue = await this.queueOf(tx, schedule.queue);
			const now = await sql.databaseNow(tx);
			const newTask = prepareTask(enqueueInputOf(schedule), queue, this.deps.limits);
			newTask.schedule = { id: schedule.id, name: schedule.name, occurrence: now.toISOString() };
			const [result] = await writeTasks(tx, this.deps.dispatch, this.deps.schema, [newTask], this.deps.limits.idempotencyWindowSeconds, () => '');
			if ('conflict' in result) throw conflictError(result.conflict);
			return result.task;
		});
		this.deps.onEnqueued?.(task.queue);
		return task;
	}

	/** The next `count` fire times from now (database clock), paused or not. */
	async nextFireTimes(id: string, count: number): Promise<Date[]> {
		const schedule = await this.get(id);
		const now = await sql.databaseNow(this.deps.pool);
		return occurrencesAfter(recurrenceOf(schedule, schedule.createdAt), now, count);
	}

	/**
	 * The next `count` fire times of a schedule not saved yet, as if it were created now (database
	 * clock): the checks and the occurrence code of a saved schedule, so the preview is what it
	 * would do once saved. An interval without startAt counts from now, as a new schedule does.
	 */
	async previewFireTimes(input: PreviewInput, count: number): Promise<Date[]> {
		const values = previewValues(input);
		const now = await sql.databaseNow(this.deps.pool);
		return this.occurrences(values, now, now, count);
	}

	private async change(id: string, work: (tx: PoolClient, current: ScheduleRow) => Promise<ScheduleRow>): Promise<ScheduleRow> {
		return withTransaction(this.deps.pool, async (tx) => {
			const current = await sql.getSchedule(tx, id, true);
			if (!current) throw notFound('Schedule', id);
			return work(tx, current);
		});
	}

	private async rewrite(tx: PoolClient, id: string, values: ScheduleValues): Promise<ScheduleRow> {
		try {
			return (await sql.updateSchedule(tx, id, values)) as ScheduleRow;
		} catch (error) {
			if ((error as { code?: string }).code === '23505') throw nameTaken(values.name);
			throw error;
		}
	}

	/** Merged and checked values: the queue must exist, and a task built from them must pass enqueue's checks. */
	private async validated(tx: PoolClient, base: Parameters<typeof mergeInput>[0], input: ScheduleInput): Promise<ScheduleValues> {
		const values = mergeInput(base, input);
		const queue = await this.queueOf(tx, values.queue);
		const probe = prepareTask(enqueueInputOf(values), queue, this.deps.limits);
		values.url = probe.url;
		return values;
	}

	private async queueOf(tx: PoolClient, name: string): Promise<QueueRow> {
		const queue = await getQueue(tx, name);
		if (!queue) {
			const message = `queue "${name}" does not exist`;
			throw new DomainError(404, 'queue_not_found', message, [{ field: 'queue', message }]);
		}
		return queue;
	}

	/** The first occurrence after `after` (and after the last one fired); null while paused or once ended. */
	private firstFire(values: ScheduleValues, createdAt: Date, after: Date): Date | null {
		if (values.paused) return null;
		return this.occurrences(values, createdAt, after, 1)[0] ?? null;
	}

	/** Up to `count` occurrences after `after`; a cron that cannot be stepped through in its zone is a 400 on `cron`. */
	private occurrences(values: ScheduleValues, createdAt: Date, after: Date, count: number): Date[] {
		try {
			return occurrencesAfter(recurrenceOf(values, createdAt), after, count);
		} catch (error) {
			throw invalidField('cron', `has no occurrence that can be computed in ${values.timezone}: ${(error as Error).message}`);
		}
	}

	/**
	 * Cancels tasks created ahead for occurrences still to come, and returns the last occurrence that
	 * keeps its task: recomputing starts after it, so a withdrawn occurrence can fire again under the
	 * new definition while one already delivered never does.
	 */
	private async withdrawAhead(tx: PoolClient, current: ScheduleRow): Promise<Date | null> {
		const withdrawn = await withdrawScheduleTasksAhead(tx, current.id);
		await cancelDispatchJobs(tx, this.deps.dispatch, withdrawn);
		if (withdrawn.length === 0) return current.lastFireAt;
		const earliest = Math.min(...withdrawn.map((t) => t.occurrence.getTime()));
		return current.lastFireAt && current.lastFireAt.getTime() < earliest ? current.lastFireAt : new Date(earliest - 1);
	}
}

function laterOf(a: Date, b: Date | null): Date {
	return b && b.getTime() > a.getTime() ? b : a;
}

function nameTaken(name: string): DomainError {
	return conflict('schedule_exists', `Schedule "${name}" already exists`, [{ field: 'name', message: `name "${name}" is taken` }]);
}
