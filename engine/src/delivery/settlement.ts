import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Pool, Queryable } from '../db/pool.js';
import { isConnectionError, pipelinedTransaction, withTransaction } from '../db/pool.js';
import { storableJson, storableText } from '../db/storable.js';
import { channelName } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import type { FinishedHook, TaskEvents } from '../tasks/taskEvents.js';
import { insertDispatchJobs } from '../tasks/dispatchJobs.js';
import type { NewAttempt } from '../tasks/attemptSql.js';
import { openAsyncAttempts, writeSettlements, type SettledRow, type SettledTask } from '../tasks/settleSql.js';
import type { TaskRow } from '../tasks/taskSql.js';
import type { DeliveryOutcome, ErrorClass } from './httpDelivery.js';
import { retryDelaySeconds } from './retryPolicy.js';
import { GroupCommit, type Waiting } from '../db/groupCommit.js';
import { dispatchLock } from './dispatchLock.js';

/** An attempt whose HTTP exchange is over (or was lost), waiting to be written. */
export interface AttemptResult {
	/** The task as it was claimed: its attempt number is the claim token. */
	task: Pick<TaskRow, 'id' | 'queue' | 'dueAt' | 'attemptCount' | 'budgetBase' | 'retry' | 'priority' | 'timeoutSeconds' | 'jobId' | 'url' | 'batch'> &
		Partial<Pick<TaskRow, 'concurrencyKey'>>;
	startedAt: Date;
	outcome: DeliveryOutcome | LostDelivery;
	handlerId: string | null;
	/**
	 * Give the attempt back: recorded, but not charged to the budget, and due again after
	 * `releaseDelaySeconds` (0: at once, as at shutdown).
	 */
	release?: boolean;
	releaseDelaySeconds?: number;
	/** The handler's report that closed the attempt (tasks/attemptReports.ts), when one did. */
	report?: 'complete' | 'fail';
}

/** An attempt's outcome once it is over: an `accepted` (202) attempt is still open. */
type ClosingOutcome = Exclude<AttemptResult['outcome'], { kind: 'accepted' }>;
type ClosingResult = AttemptResult & { outcome: ClosingOutcome };

/** A delivery whose outcome nobody saw: the engine died or the lease ran out. */
export interface LostDelivery {
	kind: 'lost';
	error: string;
}

export type Transition =
	| { state: 'open' }
	| { state: 'completed'; result: unknown }
	| { state: 'retrying'; delaySeconds: number; budgetBase: number }
	| { state: 'failed' };

/** What an attempt's outcome does to its task: a pure decision, tested on its own. */
export function decideTransition(a: AttemptResult, random: () => number = Math.random): Transition {
	const { outcome, task } = a;
	// A 202 is never given back: the handler has the work, and a second copy would run beside it.
	if (outcome.kind === 'accepted') return { state: 'open' };
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

function attemptRecord(a: ClosingResult): NewAttempt {
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
		report: a.report ?? null,
	};
}

export interface SettleCounts {
	/** Attempts left open by a 202, waiting for the handler's report. */
	opened: number;
	completed: number;
	retrying: number;
	failed: number;
	/** Results for tasks no longer active under that claim (rescued or deleted meanwhile): ignored. */
	stale: number;
	/** What became of each result's task, by task id: the decision as written (metrics count these). */
	decided: Map<string, Settled>;
}

/** What a written result did to its task: a transition, or nothing (`stale`). */
export type Settled = Transition['state'] | 'stale';

/** What `SettlementWriter.add` tells once a result is durable. */
export interface Written {
	/** The result's queue was refilled in the same transaction (see `Refill`). */
	refilled: boolean;
	settled: Settled;
}

/**
 * Writes a set of attempt results in the caller's transaction: the attempts, the task transitions
 * (guarded by the claim token so a rescued or deleted task is not touched), the new dispatch jobs of
 * retries, the completion of the old jobs, handler health, and a wake-up for the queues' dispatchers.
 */
export function settleAttempts(
	db: Queryable,
	dispatch: DispatchQueue,
	schema: string,
	results: readonly AttemptResult[],
	events?: TaskEvents,
	/** `keyLocksHeld`: the caller took `keyedLocks(schema, results)` with its BEGIN (the settlement writer does). */
	options: { keyLocksHeld?: boolean; random?: () => number } = {},
): Promise<SettleCounts> {
	return issueSettlement(db, dispatch, schema, planSettlement(results, events, options.random), events, options.keyLocksHeld ?? false);
}

/** A group of results as settlement decided them, before anything is written. */
interface SettlementPlan {
	results: readonly AttemptResult[];
	/** Attempts answered 202: left open. */
	opening: readonly AttemptResult[];
	closing: readonly ClosingResult[];
	rows: readonly SettledTask[];
	/** The finished-hooks that want some of the tasks this group may finish. */
	hooks: readonly FinishedHook[];
	/**
	 * Statements the group needs after its settlement statement, on what that returns (new jobs for
	 * retries, finished-hooks). Without them, the whole group is written by statements sent at once.
	 */
	followUps: boolean;
}

function planSettlement(results: readonly AttemptResult[], events: TaskEvents | undefined, random: () => number = Math.random): SettlementPlan {
	const opening = results.filter((a) => a.outcome.kind === 'accepted');
	const closing = results.filter((a): a is ClosingResult => a.outcome.kind !== 'accepted');
	const rows: SettledTask[] = closing.map((a) => {
		const t = decideTransition(a, random) as Exclude<Transition, { state: 'open' }>;
		const o = a.outcome;
		return {
			id: a.task.id,
			attempt: a.task.attemptCount,
			state: t.state,
			result: t.state === 'completed' ? (storableJson(t.result) ?? null) : null,
			delaySeconds: t.state === 'retrying' ? t.delaySeconds : null,
			budgetBase: t.state === 'retrying' ? t.budgetBase : a.task.budgetBase,
			jobId: t.state === 'retrying' ? randomUUID() : null,
			claimedJobId: a.task.jobId,
			lastError: o.kind === 'delivered' ? null : storableText(o.error),
			lastStatusCode: o.kind === 'lost' ? null : (o.statusCode ?? null),
			lastErrorClass: o.kind === 'lost' ? 'lost' : o.kind === 'delivered' ? null : (o.errorClass ?? null),
			throttleSeconds: throttleSeconds(a),
		};
	});
	// What the statement will make of the tasks (at most these: a stale result changes nothing).
	const finishing = rows.flatMap((r, i) =>
		r.state === 'retrying' ? [] : [{ id: r.id, queue: closing[i].task.queue, state: r.state, batchId: closing[i].task.batch?.id ?? null }],
	);
	const hooks = events?.finishedHooksFor(finishing) ?? [];
	return { results, opening, closing, rows, hooks, followUps: hooks.length > 0 || rows.some((r) => r.state === 'retrying') };
}

/**
 * Writes a planned group. Every statement that does not depend on another's result is sent before
 * the first await, so that on a pipelined connection they travel together (pipelinedTransaction);
 * the follow-ups, if the plan has any, come after the settlement statement answered.
 */
async function issueSettlement(
	db: Queryable,
	dispatch: DispatchQueue,
	schema: string,
	plan: SettlementPlan,
	events: TaskEvents | undefined,
	keyLocksHeld: boolean,
): Promise<SettleCounts> {
	const { opening, closing, rows } = plan;
	const counts: SettleCounts = { opened: 0, completed: 0, retrying: 0, failed: 0, stale: 0, decided: new Map() };
	for (const a of plan.results) counts.decided.set(a.task.id, 'stale');
	const opened = opening.length > 0 ? openAsyncAttempts(db, opening.map((a) => ({ id: a.task.id, attempt: a.task.attemptCount }))) : Promise.resolve([]);
	let written: Promise<SettledRow[]> = Promise.resolve([]);
	if (closing.length > 0) {
		// Waking a key's parked tasks and throttling it must not race a claim counting its active tasks:
		// hold the queues' dispatch locks (already held when settlement refills; taking them again is free).
		const locks = keyLocksHeld ? [] : keyedLocks(schema, closing).map((lock) => db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lock]));
		const flowControl = { keys: closing.some((a) => a.task.concurrencyKey), throttles: rows.some((r) => r.throttleSeconds !== null) };
		// The statement also closes the jobs the settled attempts were claimed with.
		const settled = writeSettlements(db, dispatch.jobs, rows, closing.map(attemptRecord), channelName(schema, 'tasks'), flowControl);
		written = allInOrder([...locks, settled]).then(() => settled);
	}
	const [openedIds, updated] = await allInOrder([opened, written] as const);
	counts.opened = openedIds.length;
	counts.stale += opening.length - openedIds.length;
	for (const id of openedIds) counts.decided.set(id, 'open');
	if (closing.length === 0) return counts;
	counts.stale += closing.length - updated.length;
	for (const u of updated) {
		counts[u.state] += 1;
		counts.decided.set(u.id, u.state);
	}
	if (!plan.followUps) return counts;
	await insertDispatchJobs(db, dispatch, updated.filter((u) => u.state === 'retrying'));
	await events?.finishedIn(db, updated.filter((u) => u.state !== 'retrying'), plan.hooks);
	return counts;
}

/**
 * Awaits statements sent together: their results, or the error of the first that failed. Waits for
 * all of them either way, so that none is still running when the caller ends the transaction.
 */
export async function allInOrder<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
	const settled = await Promise.allSettled(promises);
	for (const s of settled) if (s.status === 'rejected') throw s.reason;
	return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** The dispatch locks of the queues whose keyed tasks these results settle, in one order for every engine. */
export function keyedLocks(schema: string, results: readonly AttemptResult[]): string[] {
	return groupLocks(schema, results.filter((a) => a.task.concurrencyKey));
}

/**
 * The dispatch locks a group of the settlement writer takes with its BEGIN (none when it is
 * `lockFree` in quiet queues): those of every queue it settles, in one order. They include
 * `keyedLocks` (flow control needs them), and they keep two groups of the writer that share a queue
 * from writing its rows (handler health, throttles, a batch's progress) at the same time, where two
 * groups locking two such rows in opposite orders could deadlock.
 */
export function groupLocks(schema: string, results: readonly AttemptResult[]): string[] {
	return [...new Set(results.filter((a) => a.outcome.kind !== 'accepted').map((a) => dispatchLock(schema, a.task.queue)))].sort();
}

/**
 * A group that needs none of its queues' dispatch locks: completions only (no retry, no open async
 * attempt, no finished-hook such as a batch's progress or a dead-letter event), of tasks without a
 * concurrency key, answered by one handler at most. It writes its own tasks, attempts and jobs and
 * that one handler's row, so it cannot deadlock with another group over two rows, and it frees
 * slots without claiming: a claim beside it still counts its tasks as active, so claims less, never
 * more, than the queue's concurrency allows. Settlement writes such a group without the locks when
 * its queues are quiet too (nothing due to refill the slots with; delivery/quietQueues.ts).
 */
function lockFree(plan: SettlementPlan): boolean {
	return (
		plan.opening.length === 0 &&
		!plan.followUps &&
		plan.rows.every((r) => r.state === 'completed') &&
		plan.closing.every((a) => !a.task.concurrencyKey) &&
		new Set(plan.closing.map((a) => a.handlerId)).size <= 1
	);
}

/**
 * How long the handler asked to be left alone: a 429 or 503 with Retry-After throttles the task's
 * key (or queue). A "still starting" 503 from a freshly registered Task Trigger is not a throttle.
 */
function throttleSeconds(a: ClosingResult): number | null {
	const o = a.outcome;
	if (o.kind !== 'retry' || a.release || o.retryAfterSeconds === undefined) return null;
	return o.statusCode === 429 || o.statusCode === 503 ? o.retryAfterSeconds : null;
}


type PendingResult = Waiting<AttemptResult, Written>;

/**
 * More work claimed for the queues whose slots a settlement frees, in the settlement's own
 * transaction: the freed slot is refilled in the same commit instead of waiting for a claim round
 * of its own (a transaction and a wake-up more per task). The dispatcher provides it.
 */
export interface Refill {
	/** These queues are known to hold nothing due (delivery/quietQueues.ts): a refill would find nothing. */
	quiet(queues: readonly string[]): boolean;
	/** What to claim for these queues (null: nothing now); called before the transaction. */
	prepare(queues: readonly string[]): RefillPlan | null;
	/**
	 * Before a group of `waiting` results is written: a promise when more results are due within
	 * moments (they then join the group), else null. See Dispatcher.answersDue.
	 */
	answersDue(waiting: number): Promise<void> | null;
}

export interface RefillPlan {
	/** The queues this plan claims for. */
	readonly queues: ReadonlySet<string>;
	/**
	 * The queues' dispatch locks, taken with the settlement's BEGIN (one round trip). Holding them
	 * for the whole transaction costs nothing within an engine, whose results are written one group
	 * at a time, and makes the freed slots and the claim one step for every other engine.
	 */
	readonly locks: readonly string[];
	/**
	 * Every claim of the plan is one statement (a queue without limits of its own or per key): `claim`
	 * sends them all before it first awaits and sends nothing after, so that a settlement without
	 * follow-ups and its refill can travel in one round trip (pipelinedTransaction).
	 */
	readonly oneStatement: boolean;
	/** Claims, in the settlement's transaction after the results are written (so the freed slots count); run again from scratch if the transaction is retried. */
	claim(tx: Queryable): Promise<void>;
	/** After the commit: starts what was claimed. */
	committed(): void;
	/** The transaction failed: nothing was claimed. */
	abandoned(): void;
}

/**
 * Group commit for settlements (db/groupCommit.ts, shared with enqueues): results arriving while a
 * write is in flight are written together in the next transaction, so 2,000 deliveries a second
 * cost tens of transactions, not thousands. `add` resolves once the result is durable.
 *
 * A result is never thrown away because a write failed. When the database is unreachable, the
 * group goes back to the front of the line and is written again once it answers (backing off up to
 * 2 s); the attempt's claim token makes a late write safe, and a result that was overtaken meanwhile
 * (the rescuer settled the task) is ignored as stale. When a group fails for any other reason, its
 * results are written one by one, so one result can never undo another; a single result that still
 * fails is written without the handler's answer (status and error class only).
 */
export class SettlementWriter {
	/**
	 * Two groups at a time. Each holds the dispatch locks of all its queues (`groupLocks`; a
	 * `lockFree` group in quiet queues none), so two groups sharing a queue still take turns in the
	 * database; but the second is already sent when the first commits, so the database does not
	 * sit idle while the engine gathers the next group (measured at concurrency 500: 5,239 / 5,281
	 * tasks/s with one group at a time, 6,038 / 5,693 with two). Groups of disjoint queues touch
	 * disjoint rows (tasks, handlers, queues, keys).
	 */
	private readonly commits = new GroupCommit<AttemptResult, Written>({
		maxParallel: 2,
		maxGroup: 500,
		write: (group) => this.writeGroup(group),
		gate: (waiting) => this.refill?.answersDue(waiting) ?? null,
	});
	/** Consecutive failures to reach the database; while > 0, writes wait `backoffTimer`. */
	private outage = 0;
	private backoffTimer: NodeJS.Timeout | null = null;
	private stopped = false;

	private refill: Refill | null = null;

	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly schema: string,
		private readonly log: Logger,
		private readonly events?: TaskEvents,
	) {}

	/** Lets groups of results refill the slots they free (see `Refill`). */
	refillWith(refill: Refill): void {
		this.refill = refill;
	}

	/** Results waiting to be written (a database outage makes this grow). */
	get backlog(): number {
		return this.commits.backlog;
	}

	/** A group is being written now (a result added meanwhile joins the next group). */
	get writing(): boolean {
		return this.commits.busy;
	}

	/** Resolves once the result is durable, with what it did (and whether its queue was refilled). */
	add(result: AttemptResult): Promise<Written> {
		if (this.stopped) return Promise.reject(stopping());
		return this.commits.add(result);
	}

	/** Gives up on unwritten results (their tasks' leases run out and the rescuer retries them). */
	stop(): void {
		this.stopped = true;
		if (this.backoffTimer) clearTimeout(this.backoffTimer);
		this.commits.hold();
		for (const p of this.commits.drain()) p.reject(stopping());
	}

	private async writeGroup(group: PendingResult[]): Promise<void> {
		try {
			const { refilled, counts } = await this.writeAndRefill(group.map((p) => p.item));
			this.outage = 0;
			for (const p of group) p.resolve({ refilled: refilled.has(p.item.task.queue), settled: counts.decided.get(p.item.task.id) ?? 'stale' });
			return;
		} catch (error) {
			if (this.requeueOnOutage(group, error)) return;
			if (group.length > 1) this.log.warn({ err: error, count: group.length }, 'writing a group of delivery results failed; writing them one by one');
			else this.log.error({ err: error, taskId: group[0].item.task.id }, 'writing a delivery result failed; writing it without the handler\'s answer');
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
		for (const attempt of [p.item, withoutAnswer(p.item)]) {
			try {
				const counts = await this.write([attempt]);
				this.outage = 0;
				p.resolve({ refilled: false, settled: counts.decided.get(p.item.task.id) ?? 'stale' });
				return null;
			} catch (error) {
				if (isConnectionError(error) && !this.stopped) return error;
				if (attempt !== p.item) {
					this.log.error({ err: error, taskId: p.item.task.id }, 'a delivery result cannot be written; the rescuer will retry the task');
					p.reject(error);
				}
			}
		}
		return null;
	}

	/** When `error` says the database is unreachable: puts `group` back in front and backs off. */
	private requeueOnOutage(group: PendingResult[], error: unknown): boolean {
		if (!isConnectionError(error) || this.stopped) return false;
		this.commits.requeue(group);
		this.outage += 1;
		if (this.outage === 1) this.log.warn({ err: error, waiting: this.commits.backlog }, 'database unreachable; delivery results are kept and written when it is back');
		if (!this.backoffTimer) {
			this.commits.hold();
			this.backoffTimer = setTimeout(() => {
				this.backoffTimer = null;
				this.commits.resume();
			}, Math.min(100 * 2 ** this.outage, 2_000));
		}
		return true;
	}

	/**
	 * Writes a group in a transaction of its own, `advisoryLocks` (its queues' dispatch locks unless
	 * told otherwise) taken with its BEGIN — in one round trip when the group needs no follow-ups
	 * (see SettlementPlan).
	 */
	private write(results: readonly AttemptResult[], plan = planSettlement(results, this.events), advisoryLocks = groupLocks(this.schema, results)): Promise<SettleCounts> {
		const run = plan.followUps ? withTransaction : pipelinedTransaction;
		return run(this.pool, (tx) => issueSettlement(tx, this.dispatch, this.schema, plan, this.events, true), { advisoryLocks });
	}

	/**
	 * Writes a group and claims for its queues in the same transaction; returns the queues refilled.
	 * When neither needs more than its first statements (a group of completions, say, refilling
	 * queues without limits of their own), the whole transaction is one round trip.
	 */
	private async writeAndRefill(results: readonly AttemptResult[]): Promise<{ refilled: ReadonlySet<string>; counts: SettleCounts }> {
		const queues = [...new Set(results.map((r) => r.task.queue))];
		const settlement = planSettlement(results, this.events);
		// Nothing to refill and nothing the locks guard: a claim of these queues need not wait for this commit.
		if (lockFree(settlement) && this.refill?.quiet(queues)) return { refilled: new Set(), counts: await this.write(results, settlement, []) };
		const plan = this.refill?.prepare(queues) ?? null;
		if (!plan) return { refilled: new Set(), counts: await this.write(results, settlement) };
		const oneTrip = !settlement.followUps && plan.oneStatement;
		const settle = (tx: Queryable) => issueSettlement(tx, this.dispatch, this.schema, settlement, this.events, true);
		let counts: SettleCounts;
		try {
			// Every queue of the group (plan.locks name those it refills), all taken at BEGIN in one order.
			const advisoryLocks = [...new Set([...plan.locks, ...groupLocks(this.schema, results)])].sort();
			counts = oneTrip
				? await pipelinedTransaction(this.pool, async (tx) => (await allInOrder([settle(tx), plan.claim(tx)] as const))[0], { advisoryLocks })
				: await withTransaction(
						this.pool,
						async (tx) => {
							const written = await settle(tx);
							await plan.claim(tx);
							return written;
						},
						{ advisoryLocks },
					);
		} catch (error) {
			plan.abandoned();
			throw error;
		}
		plan.committed();
		return { refilled: plan.queues, counts };
	}
}

/** The same attempt, with nothing the handler sent kept (its result and snippet). */
function withoutAnswer(a: AttemptResult): AttemptResult {
	const o = a.outcome;
	if (o.kind === 'lost' || o.kind === 'accepted') return a;
	const note = 'the handler\'s answer could not be stored';
	if (o.kind === 'delivered') return { ...a, outcome: { ...o, result: null, responseSnippet: note } };
	return { ...a, outcome: { ...o, error: o.error.slice(0, 200), responseSnippet: note } };
}

function stopping(): Error {
	return new Error('engine stopping before the delivery result could be written');
}
