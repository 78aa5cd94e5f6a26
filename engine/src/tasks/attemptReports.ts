import type { Pool, Queryable } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { settleAttempts, type AttemptResult } from '../delivery/settlement.js';
import { storableJson, storableText } from '../db/storable.js';
import { conflict, DomainError, invalidField, notFound } from '../errors.js';
import { listAttempts, type AttemptRow } from './attemptSql.js';
import { asyncDeadlineSql } from './settleSql.js';
import type { TaskEvents } from './taskEvents.js';
import { getTask, type TaskRow } from './taskSql.js';

/**
 * What a handler may say about one attempt of a task (docs/async-completion.md): that it is done,
 * that it failed (and whether or when to retry), or that it is still working (a heartbeat).
 */
export type AttemptReport =
	| { kind: 'complete'; result?: unknown }
	| { kind: 'fail'; error: string; retry?: boolean; retryAfterSeconds?: number }
	| { kind: 'heartbeat'; extendSeconds?: number; progress?: { percent?: number; message?: string } };

export interface AttemptReportsDeps {
	pool: Pool;
	dispatch: DispatchQueue;
	schema: string;
	events: TaskEvents;
	/** A report settled a task of `queue`: its slot is free (wakes this engine's dispatcher). */
	onSettled: (queue: string) => void;
	/** Counts heartbeats and closing reports (metrics). */
	onReport?: (queue: string, kind: AttemptReport['kind']) => void;
}

/**
 * Reports on attempts, keyed by task and attempt number so that a stale worker can never settle a
 * newer attempt. A report on the open attempt settles it through settlement like an HTTP answer
 * would (the same transitions, the same claim token); one on a closed attempt changes nothing: a
 * repeat of the report that closed it answers as if it were the first, anything else is 409
 * `attempt_closed`. Reports work while the delivery's HTTP exchange is still under way too; its
 * answer, arriving after, is then ignored as stale.
 */
export class AttemptReports {
	constructor(private readonly deps: AttemptReportsDeps) {}

	async report(taskId: string, attempt: number, report: AttemptReport): Promise<{ task: TaskRow; attempts: AttemptRow[] }> {
		const settledQueue = await withTransaction(this.deps.pool, async (tx) => {
			const task = await getTask(tx, taskId, true);
			if (!task) throw notFound('Task', taskId);
			if (attempt > task.attemptCount) throw notFound('Attempt', `${attempt}`, 'n');
			const open = task.state === 'active' && task.attemptCount === attempt;
			if (!open) {
				await this.checkRepeat(tx, task, attempt, report);
				return null;
			}
			if (report.kind === 'heartbeat') {
				await recordHeartbeat(tx, task, report);
				return null;
			}
			const counts = await settleAttempts(tx, this.deps.dispatch, this.deps.schema, [this.closing(task, report)], this.deps.events);
			return counts.stale === 0 ? task.queue : null;
		});
		if (settledQueue !== null) this.deps.onSettled(settledQueue);
		const task = await getTask(this.deps.pool, taskId);
		if (!task) throw notFound('Task', taskId);
		this.deps.onReport?.(task.queue, report.kind);
		return { task, attempts: await listAttempts(this.deps.pool, taskId) };
	}

	/** A report on a closed attempt: a repeat of the report that closed it is fine; anything else is a conflict. */
	private async checkRepeat(tx: Queryable, task: TaskRow, attempt: number, report: AttemptReport): Promise<void> {
		const { rows } = await tx.query<{ report: string | null }>('SELECT report FROM attempts WHERE task_id = $1 AND number = $2', [task.id, attempt]);
		const closedBy = rows[0]?.report ?? null;
		if (report.kind !== 'heartbeat' && closedBy === report.kind) return;
		const how = closedBy ? `by a "${closedBy}" report` : task.attemptCount > attempt ? `attempt ${task.attemptCount} is under way or done` : `the task is ${task.state}`;
		throw conflict('attempt_closed', `Attempt ${attempt} of task ${task.id} is closed (${how}); nothing was changed`, [
			{ field: 'n', message: `attempt ${attempt} is closed` },
		]);
	}

	/** The settlement of the open attempt that a complete or fail report asks for. */
	private closing(task: TaskRow, report: Exclude<AttemptReport, { kind: 'heartbeat' }>): AttemptResult {
		const startedAt = task.startedAt ?? new Date();
		const base = {
			// A 202 opened an async attempt; a report during a synchronous one comes before any answer.
			...(task.deadlineAt !== null ? { statusCode: 202 as const } : {}),
			durationMs: Math.max(0, Date.now() - startedAt.getTime()),
			responseSnippet: null,
		};
		const settle = { task, startedAt, handlerId: null, report: report.kind } as const;
		if (report.kind === 'complete') {
			return { ...settle, outcome: { kind: 'delivered', ...base, result: storableJson(report.result ?? null) ?? null } };
		}
		// Checked before `retry: false` is acted on: a report the engine cannot apply as sent changes nothing.
		if (report.retryAfterSeconds !== undefined && report.retry === false) {
			throw invalidField('retryAfterSeconds', 'cannot be combined with retry: false (a dead letter now, never retried)');
		}
		if (report.retryAfterSeconds !== undefined && report.retryAfterSeconds > task.retry.maxDelaySeconds) {
			throw invalidField('retryAfterSeconds', `must be between 0 and the task's retry.maxDelaySeconds (${task.retry.maxDelaySeconds})`);
		}
		const error = storableText(report.error) ?? '';
		if (report.retry === false) return { ...settle, outcome: { kind: 'failed', ...base, errorClass: 'reported', error } };
		return {
			...settle,
			outcome: { kind: 'retry', ...base, errorClass: 'reported', error, ...(report.retryAfterSeconds !== undefined ? { retryAfterSeconds: report.retryAfterSeconds } : {}) },
		};
	}
}

/**
 * A heartbeat: the progress is shown on the task; during an async attempt the deadline moves to
 * now + `extendSeconds` (default: the attempt's async timeout). During a synchronous attempt the
 * HTTP exchange's own timeout stands, so only the progress is recorded.
 */
async function recordHeartbeat(tx: Queryable, task: TaskRow, report: Extract<AttemptReport, { kind: 'heartbeat' }>): Promise<void> {
	const progress = report.progress
		? { percent: report.progress.percent ?? null, message: storableText(report.progress.message ?? null), updatedAt: new Date().toISOString() }
		: null;
	const { rowCount } = await tx.query(
		`UPDATE tasks t SET
		   deadline_at = CASE WHEN t.deadline_at IS NULL THEN NULL ELSE ${EXTENDED} END,
		   lease_expires_at = CASE WHEN t.deadline_at IS NULL THEN t.lease_expires_at ELSE ${EXTENDED} END,
		   progress = COALESCE($3::jsonb, t.progress)
		 FROM queues q
		 WHERE t.id = $1 AND t.state = 'active' AND t.attempt_count = $4 AND q.name = t.queue`,
		[task.id, report.extendSeconds ?? null, progress === null ? null : JSON.stringify(progress), task.attemptCount],
	);
	if (rowCount !== 1) throw new DomainError(409, 'attempt_closed', `Attempt ${task.attemptCount} of task ${task.id} closed meanwhile; nothing was changed`);
}

const EXTENDED = asyncDeadlineSql('$2');
