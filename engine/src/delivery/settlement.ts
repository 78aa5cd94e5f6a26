import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Pool, Queryable } from '../db/pool.js';
import { isConnectionError, withTransaction } from '../db/pool.js';
import { storableJson, storableText } from '../db/storable.js';
import { channelName } from '../db/notifications.js';
import type { DispatchQueue, HandlerEvent } from '../dispatch/dispatchQueue.js';
import type { TaskEvents } from '../tasks/taskEvents.js';
import { insertDispatchJobs } from '../tasks/dispatchJobs.js';
import { insertAttempts, type NewAttempt } from '../tasks/attemptSql.js';
import type { TaskRow } from '../tasks/taskSql.js';
import { recordHandlerResults } from '../queues/handlerSql.js';
import type { DeliveryOutcome, ErrorClass } from './httpDelivery.js';
import { retryDelaySeconds } from './retryPolicy.js';

/** An attempt whose HTTP exchange is over (or was lost), waiting to be written. */
export interface AttemptResult {
	/** The task as it was claimed: its attempt number is the claim token. */
	task: Pick<TaskRow, 'id' | 'queue' | 'dueAt' | 'attemptCount' | 'budgetBase' | 'retry' | 'priority' | 'timeoutSeconds' | 'jobId' | 'url'>;
	startedAt: Date;
	outcome: DeliveryOutcome | LostDelivery;
	handlerId: string | null;
	/**
	 * Give the attempt back: recorded, but not charged to the budget, and due again after
	 * `releaseDelaySeconds` (0: at once, as at shutdown).
	 */
	release?: boolean;
	releaseDelaySeconds?: number;
}

/** A delivery whose outcome nobody saw: the engine died or the lease ran out. */
export interface LostDelivery {
	kind: 'lost';
	error: string;
}

export type Transition =
	| { state: 'completed'; result: unknown }
	| { state: 'retrying'; delaySeconds: number; budgetBase: number }
	| { state: 'failed' };

/** What an attempt's outcome does to its task: a pure decision, tested on its own. */
export function decideTransition(a: AttemptResult, random: () => number = Math.random): Transition {
	const { outcome, task } = a;
	if (outcome.kind === 'delivered') return { state: 'completed', result: outcome.result };
	if (outcome.kind === 'failed') return { state: 'failed' };
	if (a.release) return { state: 'retrying', delaySeconds: a.releaseDelaySeconds ?? 0, budgetBase: task.budgetBase + 1 };
	const used = task.attemptCount - task.budgetBase;
	if (used >= task.retry.limit + 1) return { state: 'failed' };
	const retryAfterSeconds = outcome.kind === 'retry' ? outcome.retryAfterSeconds : undefined;
	return {
		state: 'retrying',
		delaySeconds: retryDelaySeconds(task.retry, used, { retryAfterSeconds, random }),
		budgetBase: task.budgetBase,
	};
}

function attemptRecord(a: AttemptResult): NewAttempt {
	const o = a.outcome;
	const failedOrRetry = o.kind !== 'delivered';
	return {
		taskId: a.task.id,
		queue: a.task.queue,
		number: a.task.attemptCount,
		// The due time this attempt was claimed against (unchanged while active): lateness = start − due.
		dueAt: a.task.dueAt.toISOString(),
		startedAt: a.startedAt.toISOString(),
		durationMs: o.kind === 'lost' ? null : Math.round(o.durationMs),
		outcome: o.kind === 'delivered' ? 'delivered' : o.kind === 'failed' ? 'failed' : 'retry',
		statusCode: o.kind === 'lost' ? null : (o.statusCode ?? null),
		errorClass: o.kind === 'lost' ? 'lost' : o.kind === 'delivered' ? null : ((o.errorClass as ErrorClass | undefined) ?? null),
		error: failedOrRetry ? storableText(o.error) : null,
		responseSnippet: o.kind === 'lost' ? null : storableText(o.responseSnippet),
		handlerId: a.handlerId,
	};
}

export interface SettleCounts {
	completed: number;
	retrying: number;
	failed: number;
	/** Results for tasks no longer active under that claim (rescued or deleted meanwhile): ignored. */
	stale: number;
}

/**
 * Writes a set of attempt results in the caller's transaction: the attempts, the task transitions
 * (guarded by the claim token so a rescued or deleted task is not touched), the new dispatch jobs of
 * retries, the completion of the old jobs, handler health, and a wake-up for the queues' dispatchers.
 */
export async function settleAttempts(
	db: Queryable,
	dispatch: DispatchQueue,
	schema: string,
	results: readonly AttemptResult[],
	events?: TaskEvents,
	random: () => number = Math.random,
): Promise<SettleCounts> {
	const counts: SettleCounts = { completed: 0, retrying: 0, failed: 0, stale: 0 };
	if (results.length === 0) return counts;
	const rows = results.map((a) => {
		const t = decideTransition(a, random);
		const o = a.outcome;
		return {
			id: a.task.id,
			attempt: a.task.attemptCount,
			state: t.state,
			result: t.state === 'completed' ? (storableJson(t.result) ?? null) : null,
			delaySeconds: t.state === 'retrying' ? t.delaySeconds : null,
			budgetBase: t.state === 'retrying' ? t.budgetBase : a.task.budgetBase,
			jobId: t.state === 'retrying' ? randomUUID() : null,
			lastError: o.kind === 'delivered' ? null : storableText(o.error),
			lastStatusCode: o.kind === 'lost' ? null : (o.statusCode ?? null),
			lastErrorClass: o.kind === 'lost' ? 'lost' : o.kind === 'delivered' ? null : (o.errorClass ?? null),
		};
	});
	const { rows: updated } = await db.query<{ id: string; queue: string; state: string; dueAt: Date; priority: number; timeoutSeconds: number; jobId: string; url: string | null; event: HandlerEvent; batchId: string | null }>(
		`WITH updated AS (
		 UPDATE tasks t SET state = x.state,
		   result = CASE WHEN x.state = 'completed' THEN x.result ELSE t.result END,
		   due_at = CASE WHEN x.state = 'retrying' THEN now() + make_interval(secs => x."delaySeconds") ELSE t.due_at END,
		   finished_at = CASE WHEN x.state = 'retrying' THEN NULL ELSE now() END,
		   budget_base = x."budgetBase",
		   job_id = COALESCE(x."jobId", t.job_id),
		   last_error = x."lastError", last_status_code = x."lastStatusCode", last_error_class = x."lastErrorClass",
		   lease_expires_at = NULL, engine_id = NULL
		 FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt int, state text, result jsonb, "delaySeconds" float8,
		   "budgetBase" int, "jobId" uuid, "lastError" text, "lastStatusCode" int, "lastErrorClass" text)
		 WHERE t.id = x.id AND t.state = 'active' AND t.attempt_count = x.attempt
		 RETURNING t.id, t.queue, t.state, t.due_at AS "dueAt", t.priority, t.timeout_seconds AS "timeoutSeconds", t.job_id AS "jobId", t.url,
		   t.event, t.batch_id AS "batchId"
		 ), announced AS (
		   -- A freed slot may let another engine claim: tell the queues' dispatchers, in this statement.
		   SELECT pg_notify($2, queue) FROM (SELECT DISTINCT queue FROM updated) q
		 )
		 SELECT * FROM updated WHERE (SELECT count(*) FROM announced) >= 0`,
		[JSON.stringify(rows), channelName(schema, 'tasks')],
	);
	const settled = new Set(updated.map((u) => u.id));
	counts.stale = results.length - settled.size;
	const live = results.filter((a) => settled.has(a.task.id));
	await insertAttempts(db, live.map(attemptRecord));
	await recordHandlerResults(
		db,
		live.filter((a) => a.handlerId !== null && a.outcome.kind !== 'lost').map((a) => ({ handlerId: a.handlerId as string, ok: a.outcome.kind === 'delivered' })),
	);

	const oldJobs = new Map<string, string[]>();
	for (const a of live) if (a.task.jobId) push(oldJobs, a.task.queue, a.task.jobId);
	for (const u of updated) counts[u.state as keyof SettleCounts] += 1;
	for (const [queue, ids] of oldJobs) await dispatch.complete(db, queue, ids);
	await insertDispatchJobs(db, dispatch, updated.filter((u) => u.state === 'retrying'));
	await events?.finishedIn(db, updated.filter((u) => u.state !== 'retrying'));
	return counts;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
	const list = map.get(key);
	if (list) list.push(value);
	else map.set(key, [value]);
}

interface PendingResult {
	result: AttemptResult;
	done: (error?: unknown) => void;
}

/**
 * Group commit for settlements: results arriving while a write is in flight are written together
 * in the next transaction, so 2,000 deliveries a second cost tens of transactions, not thousands.
 * `add` resolves once the result is durable.
 *
 * A result is never thrown away because a write failed. When the database is unreachable, the
 * group goes back to the front of the line and is written again once it answers (backing off up to
 * 2 s); the attempt's claim token makes a late write safe, and a result that was overtaken meanwhile
 * (the rescuer settled the task) is ignored as stale. When a group fails for any other reason, its
 * results are written one by one, so one result can never undo another; a single result that still
 * fails is written without the handler's answer (status and error class only).
 */
export class SettlementWriter {
	private pending: PendingResult[] = [];
	private writing = 0;
	private readonly maxParallel = 2;
	private readonly groupSize = 500;
	/** Consecutive failures to reach the database; while > 0, writes wait `backoffTimer`. */
	private outage = 0;
	private backoffTimer: NodeJS.Timeout | null = null;
	private stopped = false;

	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly schema: string,
		private readonly log: Logger,
		private readonly events?: TaskEvents,
	) {}

	/** Results waiting to be written (a database outage makes this grow). */
	get backlog(): number {
		return this.pending.length;
	}

	add(result: AttemptResult): Promise<void> {
		return new Promise((resolve, reject) => {
			this.pending.push({ result, done: (error) => (error ? reject(error) : resolve()) });
			this.flush();
		});
	}

	/** Gives up on unwritten results (their tasks' leases run out and the rescuer retries them). */
	stop(): void {
		this.stopped = true;
		if (this.backoffTimer) clearTimeout(this.backoffTimer);
		const left = this.pending.splice(0);
		for (const p of left) p.done(new Error('engine stopping before the delivery result could be written'));
	}

	private flush(): void {
		if (this.stopped || this.backoffTimer || this.writing >= this.maxParallel || this.pending.length === 0) return;
		const group = this.pending.splice(0, this.groupSize);
		this.writing += 1;
		this.writeGroup(group).finally(() => {
			this.writing -= 1;
			this.flush();
		});
	}

	private async writeGroup(group: PendingResult[]): Promise<void> {
		try {
			await this.write(group.map((p) => p.result));
			this.outage = 0;
			for (const p of group) p.done();
			return;
		} catch (error) {
			if (this.requeueOnOutage(group, error)) return;
			if (group.length > 1) this.log.warn({ err: error, count: group.length }, 'writing a group of delivery results failed; writing them one by one');
			else this.log.error({ err: error, taskId: group[0].result.task.id }, 'writing a delivery result failed; writing it without the handler\'s answer');
		}
		for (let i = 0; i < group.length; i++) {
			const outage = await this.writeAlone(group[i]);
			// The database went away meanwhile: this result and the rest of the group wait for it.
			if (outage !== null && this.requeueOnOutage(group.slice(i), outage)) return;
		}
	}

	/**
	 * Writes one result; on a data error, once more without what the handler answered. Returns the
	 * error when the database is unreachable (the result is not done), else null.
	 */
	private async writeAlone(p: PendingResult): Promise<unknown> {
		for (const attempt of [p.result, withoutAnswer(p.result)]) {
			try {
				await this.write([attempt]);
				this.outage = 0;
				p.done();
				return null;
			} catch (error) {
				if (isConnectionError(error) && !this.stopped) return error;
				if (attempt !== p.result) {
					this.log.error({ err: error, taskId: p.result.task.id }, 'a delivery result cannot be written; the rescuer will retry the task');
					p.done(error);
				}
			}
		}
		return null;
	}

	/** When `error` says the database is unreachable: puts `group` back in front and backs off. */
	private requeueOnOutage(group: PendingResult[], error: unknown): boolean {
		if (!isConnectionError(error) || this.stopped) return false;
		this.pending.unshift(...group);
		this.outage += 1;
		if (this.outage === 1) this.log.warn({ err: error, waiting: this.pending.length }, 'database unreachable; delivery results are kept and written when it is back');
		if (!this.backoffTimer) {
			this.backoffTimer = setTimeout(() => {
				this.backoffTimer = null;
				this.flush();
			}, Math.min(100 * 2 ** this.outage, 2_000));
		}
		return true;
	}

	private write(results: readonly AttemptResult[]): Promise<SettleCounts> {
		return withTransaction(this.pool, (tx) => settleAttempts(tx, this.dispatch, this.schema, results, this.events));
	}
}

/** The same attempt, with nothing the handler sent kept (its result and snippet). */
function withoutAnswer(a: AttemptResult): AttemptResult {
	const o = a.outcome;
	if (o.kind === 'lost') return a;
	const note = 'the handler\'s answer could not be stored';
	if (o.kind === 'delivered') return { ...a, outcome: { ...o, result: null, responseSnippet: note } };
	return { ...a, outcome: { ...o, error: o.error.slice(0, 200), responseSnippet: note } };
}
