import type { Pool, Queryable } from '../db/pool.js';
import { pipelinedTransaction, withTransaction } from '../db/pool.js';
import { dispatchLock } from './dispatchLock.js';

export { dispatchLock };
import { ignoredHandlerGroups, type DispatchQueue, type HandlerEvent } from '../dispatch/dispatchQueue.js';
import type { QueueRow } from '../queues/queueSql.js';
import { returnRatePermits, secondsUntilRateWindowEnds, takeRatePermits } from '../queues/queueSql.js';
import { secondsUntilNextDue, type TaskRow } from '../tasks/taskSql.js';
import { activateClaimed, activeCounts, countAndClaim, fetchAndActivate, keysNeedALook, type ActiveCounts, type ClaimRoom } from '../tasks/claimSql.js';
import { completeDispatchJobs, insertDispatchJobs } from '../tasks/dispatchJobs.js';
import { unparkWoken } from '../flowControl/keySql.js';

/** Claimed jobs parked behind their keys are replaced by fetching again, at most this many more times per claim. */
const REFETCH_ROUNDS = 3;

export interface ClaimResult {
	tasks: TaskRow[];
	/** Why fewer than asked were claimed, and when to look again (ms, database clock); null = on notification. */
	retryInMs: number | null;
	/** The queue's concurrency limit is what stopped the claim (wake when one of its deliveries ends). */
	atConcurrencyLimit: boolean;
	/** Fewer tasks were due than the claim had room for: nothing else is due now (`retryInMs` tells when). */
	drained: boolean;
}

export interface ClaimRequest {
	schema: string;
	queue: QueueRow;
	wanted: number;
	handlerEvents: HandlerEvent[];
	engineId: string;
	leaseGraceSeconds: number;
	/** Heartbeat age after which an engine no longer counts among those sharing a queue. */
	engineDeadAfterSeconds: number;
	/**
	 * Take at most this engine's share of the queue's concurrency (an even split among the live
	 * engines). Settlement's refills ask for it: they claim in the same transaction that frees the
	 * slots, before any other engine can look, so without a share one engine would keep every slot.
	 */
	fairShare?: boolean;
}

/**
 * Claims up to `wanted` due tasks of one queue in a transaction of its own — for a queue without
 * limits of its own or per key (the default), in one round trip (see `claimOneStatement`).
 */
export async function claimDueTasks(
	pool: Pool,
	dispatch: DispatchQueue,
	request: ClaimRequest,
	/** Told when closing stray jobs after the commit failed (see `OneStatementClaim.closeStrayJobs`). */
	onAfterCommitError: (error: unknown) => void,
): Promise<ClaimResult> {
	const locks = { advisoryLocks: [dispatchLock(request.schema, request.queue.name)] };
	if (!claimsInOneStatement(request.queue)) return withTransaction(pool, (tx) => claimDueTasksIn(tx, dispatch, request), locks);
	const claim = await pipelinedTransaction(pool, (tx) => claimOneStatement(tx, dispatch, request), locks);
	// Not awaited: the claimed tasks are this engine's now and must be delivered whatever happens to it.
	claim.closeStrayJobs(pool).catch(onAfterCommitError);
	// The keys' outlook holds something back: only the full claim knows what to do about it.
	return claim.needsTheFullClaim ? withTransaction(pool, (tx) => claimDueTasksIn(tx, dispatch, request), locks) : claim.result;
}

/** Whether a claim of this queue is one statement (`claimOneStatement`): no rate limit, no limits per key. */
export function claimsInOneStatement(queue: QueueRow): boolean {
	return queue.rateLimitMax === null && queue.keyConcurrency === null && queue.keyRateLimitMax === null;
}

/** A claim made of one statement, and what is left to do once its transaction has committed. */
export interface OneStatementClaim {
	result: ClaimResult;
	/** What the statement counted first (the full claim goes on from these). */
	counts: ActiveCounts;
	/**
	 * The keys' outlook holds something back (a throttle, woken keys), so nothing was claimed: the
	 * full claim (`claimDueTasksIn`) must run, in a transaction of its own.
	 */
	needsTheFullClaim: boolean;
	/**
	 * Closes the claimed jobs whose task no longer waited on them (cancelled, redriven, deleted) —
	 * after the commit of a pipelined claim, so that it stays one statement (left undone by a crash,
	 * such a job only expires in pg-boss: there is no task it could deliver); in the transaction
	 * itself otherwise.
	 */
	closeStrayJobs(db: Queryable): Promise<void>;
}

/**
 * The claim of a queue for which `claimsInOneStatement` holds, as ONE statement sent without
 * awaiting anything first, so that it can share a pipelined round trip with the statements around
 * it (a settlement's, when it refills). The caller holds the queue's `dispatchLock`.
 */
export async function claimOneStatement(tx: Queryable, dispatch: DispatchQueue, request: ClaimRequest): Promise<OneStatementClaim> {
	const counted = await countAndClaim(tx, dispatch.jobs, claimRoom(request), ignoredHandlerGroups(request.handlerEvents), request.leaseGraceSeconds);
	const leftovers = counted.claim.leftovers.map((jobId) => ({ queue: request.queue.name, jobId }));
	const closeStrayJobs = async (db: Queryable) => {
		if (leftovers.length > 0) await completeDispatchJobs(db, dispatch, leftovers);
	};
	const needsTheFullClaim = keysNeedALook(counted.counts) && counted.counts.room > 0;
	const result =
		counted.counts.room <= 0
			? { tasks: [], retryInMs: null, atConcurrencyLimit: true, drained: false }
			: resultOf(counted.claim.tasks, counted.claim.fetched < counted.counts.room, counted.nextDueInSeconds, counted.counts.nextWakeInSeconds);
	return { result, counts: counted.counts, needsTheFullClaim, closeStrayJobs };
}

function claimRoom(request: ClaimRequest): ClaimRoom {
	return {
		queue: request.queue.name,
		engineId: request.engineId,
		wanted: request.wanted,
		concurrency: request.queue.concurrency,
		fairShare: request.fairShare ?? false,
		engineDeadAfterSeconds: request.engineDeadAfterSeconds,
	};
}

/**
 * Claims up to `wanted` due tasks of one queue for this engine, in the caller's transaction, which
 * must hold the queue's `dispatchLock`. Settlement calls it too, in the transaction that frees the
 * slots, so a slot whose delivery ended is refilled without a transaction of its own.
 */
export async function claimDueTasksIn(tx: Queryable, dispatch: DispatchQueue, request: ClaimRequest): Promise<ClaimResult> {
	const { queue } = request;
	const room = claimRoom(request);
	let counts: ActiveCounts;
	if (claimsInOneStatement(queue)) {
		// A queue without limits of its own or per key — the default — is claimed in one statement,
		// unless its keys' outlook holds something back (a throttle, woken keys): then as below.
		const one = await claimOneStatement(tx, dispatch, request);
		if (!one.needsTheFullClaim) {
			await one.closeStrayJobs(tx);
			return one.result;
		}
		counts = one.counts;
	} else {
		counts = await activeCounts(tx, room);
	}
	let limit = counts.room;
	if (limit <= 0) return { tasks: [], retryInMs: null, atConcurrencyLimit: true, drained: false };

	// Flow control (docs/flow-control.md): a throttled queue waits; woken keys' parked tasks go back in line.
	if (counts.throttledForSeconds !== null) return { tasks: [], retryInMs: Math.max(1, Math.ceil(counts.throttledForSeconds * 1000)), atConcurrencyLimit: false, drained: false };
	if (counts.woken > 0) await insertDispatchJobs(tx, dispatch, await unparkWoken(tx, queue));

	let permits = limit;
	if (queue.rateLimitMax !== null) {
		permits = await takeRatePermits(tx, queue.name, limit);
		if (permits === 0) {
			const wait = await secondsUntilRateWindowEnds(tx, queue.name);
			return { tasks: [], retryInMs: Math.max(1, Math.ceil(wait * 1000)), atConcurrencyLimit: false, drained: false };
		}
		limit = permits;
	}

	// Keys are checked only where one can be held back: key limits, or a key throttled right now.
	const gated = queue.keyConcurrency !== null || queue.keyRateLimitMax !== null || counts.keysThrottled;
	const tasks: TaskRow[] = [];
	let wakeInSeconds = counts.nextWakeInSeconds;
	let exhausted = false;
	if (!gated) {
		// The common case, in one statement: pg-boss's fetch and the activation together.
		const claimed = await fetchAndActivate(tx, dispatch.jobs, queue.name, limit, ignoredHandlerGroups(request.handlerEvents), request.engineId, request.leaseGraceSeconds);
		tasks.push(...claimed.tasks);
		await completeDispatchJobs(tx, dispatch, claimed.leftovers.map((jobId) => ({ queue: queue.name, jobId })));
		exhausted = claimed.fetched < limit;
	}
	for (let round = 0; gated && round <= REFETCH_ROUNDS && tasks.length < limit; round++) {
		const jobs = await dispatch.fetch(tx, queue.name, limit - tasks.length, request.handlerEvents);
		const claimed = await activateClaimed(tx, queue, jobs, request.engineId, request.leaseGraceSeconds);
		tasks.push(...claimed.tasks);
		if (claimed.wakeInSeconds !== null) wakeInSeconds = Math.min(wakeInSeconds ?? Infinity, claimed.wakeInSeconds);
		// A job whose task is no longer waiting on it (cancelled, redriven, deleted, parked) is closed here.
		const taken = new Set(claimed.tasks.map((t) => t.jobId));
		await completeDispatchJobs(tx, dispatch, jobs.filter((j) => !taken.has(j.jobId)).map((j) => ({ queue: queue.name, jobId: j.jobId })));
		exhausted = jobs.length < limit - tasks.length + claimed.tasks.length;
		// Only parked tasks are worth fetching again for: their jobs are gone, so the next fetch sees others.
		if (exhausted || claimed.parked === 0) break;
	}
	if (queue.rateLimitMax !== null) await returnRatePermits(tx, queue.name, permits - tasks.length);

	return resultOf(tasks, exhausted, exhausted ? await secondsUntilNextDue(tx, queue.name) : null, wakeInSeconds);
}

/** The claim's result, with when to look again: the next task due (when fewer were due than asked), the next key to wake. */
function resultOf(tasks: TaskRow[], drained: boolean, nextDueInSeconds: number | null, wakeInSeconds: number | null): ClaimResult {
	const soonest = Math.min(nextDueInSeconds ?? Infinity, wakeInSeconds ?? Infinity);
	return { tasks, retryInMs: soonest === Infinity ? null : Math.max(1, Math.ceil(soonest * 1000)), atConcurrencyLimit: false, drained };
}
