import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { notify } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { handlersFor, type QueueCatalog, type QueueEntry } from '../queues/queueCatalog.js';
import { claimTestHandler, deleteSpentTestHandler, releaseTestHandler, type HandlerEvent, type HandlerRow } from '../queues/handlerSql.js';
import type { TaskRow } from '../tasks/taskSql.js';
import { claimDueTasks, claimDueTasksIn, claimOneStatement, claimsInOneStatement, dispatchLock, type ClaimRequest, type ClaimResult, type OneStatementClaim } from './claim.js';
import type { DeliveryClient, DeliveryOutcome } from './httpDelivery.js';
import { allInOrder, type Refill, type RefillPlan, type Settled, type SettlementWriter } from './settlement.js';
import { targetFor, taskDeliveryRequest } from './taskDelivery.js';
import { QuietQueues } from './quietQueues.js';

export interface DispatcherOptions {
	schema: string;
	engineId: string;
	/** Deliveries in flight in this process, across queues. */
	deliveryConcurrency: number;
	pollIntervalMs: number;
	leaseGraceSeconds: number;
	engineDeadAfterSeconds: number;
}

/**
 * Observers of deliveries (metrics); called after each attempt's result is durable, with what
 * settlement made of it (`released`: given back uncharged, neither a retry nor a dead letter).
 */
export type DeliveryObserver = (task: TaskRow, outcome: DeliveryOutcome, settled: Settled | 'released') => void;

/**
 * Moves due tasks from pg-boss to their handlers. One loop per queue claims as many due tasks as
 * there are free slots, starts their deliveries without waiting for them, and sleeps until
 * something can change: a notification (new task, settled task, queue change), a timer set to the
 * next due time by the database clock, a freed slot, or the safety-net poll.
 */
/** How long a group of results may wait for the answers due from the cohorts in flight (see Dispatcher.answersDue). */
const COHORT_LINGER_MS = 3;
/**
 * Only while exchanges take at most this long on average, and only for groups smaller than
 * COHORT_LINGER_MAX_GROUP: behind slower handlers the wait would only delay the group, and a larger
 * group already spreads its transaction's fixed cost. A cohort sent longer ago is not waited for.
 */
const COHORT_LINGER_MAX_EXCHANGE_MS = 10;
const COHORT_LINGER_MAX_GROUP = 20;

/** Tasks claimed together: how many have not answered yet. */
interface Cohort {
	pending: number;
	/** Resolves once every task of the cohort has answered. */
	answered: Promise<void>;
	allAnswered: () => void;
	/** When its deliveries started (performance.now()). */
	sentAt: number;
}

function newCohort(size: number): Cohort {
	let allAnswered!: () => void;
	const answered = new Promise<void>((resolve) => (allAnswered = resolve));
	return { pending: size, answered, allAnswered, sentAt: performance.now() };
}

export class Dispatcher implements Refill {
	private readonly loops = new Map<string, QueueLoop>();
	private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void>; releasing: boolean }>();
	private readonly roundRobin = new Map<string, number>();
	private readonly observers: DeliveryObserver[] = [];
	/** HTTP exchanges under way; a slot is free again as soon as its exchange is over. */
	private exchanges = 0;
	/** Slots promised to claims in settlement transactions not yet committed. */
	private reserved = 0;
	/** Cohorts with tasks still in their HTTP exchange. */
	private readonly unanswered = new Set<Cohort>();
	/** How long exchanges take, as a moving average (ms); null before the first. */
	private exchangeMsAverage: number | null = null;
	private stopping = false;
	/** Until `start()`, wake-ups are ignored: an engine without background work must not deliver (it has no heartbeat). */
	private started = false;
	/** Queues known to hold nothing due (settlement writes their completions without their dispatch locks). */
	private readonly quietQueues = new QuietQueues();

	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly catalog: QueueCatalog,
		private readonly settlement: SettlementWriter,
		private readonly client: DeliveryClient,
		private readonly log: Logger,
		private readonly options: DispatcherOptions,
	) {
		settlement.refillWith(this);
	}

	start(): void {
		this.started = true;
		this.catalog.onChange((name) => this.wake(name));
		for (const name of this.catalog.names()) this.ensureLoop(name);
	}

	observe(observer: DeliveryObserver): void {
		this.observers.push(observer);
	}

	/** Something may be due in this queue (a notification or a local enqueue). */
	wake(queue: string): void {
		this.quietQueues.heard(queue);
		this.ensureLoop(queue)?.wake();
	}

	/**
	 * New tasks were written to `queue`. Tasks bound for handlers cannot move while the queue has
	 * none (they wait as `queued`), so a claim round would only cost a transaction: skip it.
	 */
	wakeForNewTasks(queue: string, handlerOnly: boolean): void {
		const entry = this.catalog.get(queue);
		if (handlerOnly && entry && handlersFor(entry, 'task').length === 0) return;
		this.wake(queue);
	}

	wakeAll(): void {
		this.quietQueues.heardAll();
		for (const loop of this.loops.values()) loop.wake();
	}

	/** Deliveries claimed by this engine and not yet written back. */
	get inFlightCount(): number {
		return this.inFlight.size;
	}

	/**
	 * Slots for new deliveries. A slot frees when its HTTP exchange ends, not when its result is
	 * written: results are written in groups, and waiting for the group would idle the slot for
	 * tens of milliseconds. The queue's own concurrency limit still counts a task until its result
	 * is written (the database is what all engines see), and a backlog of unwritten results larger
	 * than the slots stops claiming.
	 */
	freeSlots(): number {
		if (this.stopping) return 0;
		const writing = this.inFlight.size - this.exchanges;
		if (writing > this.options.deliveryConcurrency) return 0;
		return Math.max(0, this.options.deliveryConcurrency - this.exchanges - this.reserved);
	}

	private ensureLoop(name: string): QueueLoop | undefined {
		if (this.stopping || !this.started) return undefined;
		let loop = this.loops.get(name);
		if (!loop && this.catalog.get(name)) {
			loop = new QueueLoop(name, this);
			this.loops.set(name, loop);
			loop.run().finally(() => this.loops.delete(name));
		}
		return loop;
	}

	/**
	 * What this engine would claim from a queue with `free` local slots: nothing while it is paused;
	 * one task at a time while a test handler is where its tasks would go (a test handler takes one
	 * task, so no others are claimed only to be given back — see pickHandler); never more than the
	 * queue's own concurrency.
	 */
	private claimRequest(entry: QueueEntry, free: number): ClaimRequest | null {
		if (entry.queue.paused) return null;
		const routes = (['task', 'batch', 'dead_letter'] as HandlerEvent[]).map((event) => ({ event, handlers: handlersFor(entry, event) }));
		const handlerEvents = routes.filter((r) => r.handlers.length > 0).map((r) => r.event);
		const toTestHandler = routes.some((r) => r.handlers[0]?.mode === 'test');
		const wanted = Math.min(free, toTestHandler ? 1 : entry.queue.concurrency);
		if (wanted <= 0) return null;
		const { schema, engineId, leaseGraceSeconds, engineDeadAfterSeconds } = this.options;
		return { schema, queue: entry.queue, wanted, handlerEvents, engineId, leaseGraceSeconds, engineDeadAfterSeconds };
	}

	/** One claim round for a queue; returns how long the loop may sleep (null: until woken). */
	async claimRound(name: string): Promise<{ claimed: number; sleepMs: number | null } | 'gone'> {
		const entry = await this.catalog.settled(name);
		if (!entry) return 'gone';
		const request = this.claimRequest(entry, this.freeSlots());
		if (!request) return { claimed: 0, sleepMs: null };
		const mark = this.quietQueues.mark(name);
		const claim = await claimDueTasks(this.pool, this.dispatch, request, (error) => this.strayJobsNotClosed(name, error));
		this.quietQueues.claimed(name, mark, claim.drained);
		this.deliverCohort(claim.tasks, entry);
		if (claim.tasks.length === request.wanted) return { claimed: claim.tasks.length, sleepMs: 0 };
		if (claim.atConcurrencyLimit) return { claimed: 0, sleepMs: this.options.pollIntervalMs };
		return { claimed: claim.tasks.length, sleepMs: Math.min(claim.retryInMs ?? this.options.pollIntervalMs, this.options.pollIntervalMs) };
	}

	/** Refill (settlement.ts): whether these queues are known to hold nothing due (QuietQueues). */
	quiet(queues: readonly string[]): boolean {
		return queues.every((queue) => this.quietQueues.quiet(queue));
	}

	/** Refill (settlement.ts): claims for the settled queues inside the settlement's transaction. */
	prepare(queues: readonly string[]): RefillPlan | null {
		if (this.stopping || !this.started) return null;
		let free = this.freeSlots();
		const requests: { entry: QueueEntry; request: ClaimRequest; mark: number }[] = [];
		for (const name of queues) {
			const entry = this.catalog.get(name);
			const request = entry ? this.claimRequest(entry, free) : null;
			if (!entry || !request) continue;
			free -= request.wanted;
			requests.push({ entry, request: { ...request, fairShare: true }, mark: this.quietQueues.mark(name) });
		}
		if (requests.length === 0) return null;
		const reserved = requests.reduce((sum, r) => sum + r.request.wanted, 0);
		this.reserved += reserved;
		const oneStatement = requests.every((r) => claimsInOneStatement(r.entry.queue));
		let claims: { entry: QueueEntry; claim: ClaimResult; mark: number; rest?: OneStatementClaim }[] = [];
		return {
			queues: new Set(requests.map((r) => r.entry.queue.name)),
			locks: requests.map((r) => dispatchLock(this.options.schema, r.entry.queue.name)),
			oneStatement,
			claim: async (tx) => {
				claims = [];
				if (oneStatement) {
					// All sent before the first await (RefillPlan.oneStatement).
					const sent = requests.map((r) => claimOneStatement(tx, this.dispatch, r.request));
					const done = await allInOrder(sent);
					claims = done.map((rest, i) => ({ entry: requests[i].entry, claim: rest.result, mark: requests[i].mark, rest }));
					return;
				}
				for (const r of requests) claims.push({ entry: r.entry, claim: await claimDueTasksIn(tx, this.dispatch, r.request), mark: r.mark });
			},
			committed: () => {
				this.reserved -= reserved;
				for (const { entry, claim, mark, rest } of claims) {
					this.quietQueues.claimed(entry.queue.name, mark, claim.drained);
					this.deliverCohort(claim.tasks, entry);
					if (rest) this.afterOneStatementClaim(entry.queue.name, rest);
					// The queue's loop times the next look: a due time ahead, or a claim that stopped short of
					// its room without draining what was due (stray jobs, parked tasks). Not when nothing was due:
					// the next enqueue wakes the loop, and a round now would be a transaction that claims nothing.
					if (claim.retryInMs !== null || (!claim.atConcurrencyLimit && claim.tasks.length === 0 && !claim.drained)) this.wake(entry.queue.name);
				}
			},
			abandoned: () => {
				this.reserved -= reserved;
			},
		};
	}

	/** What a one-statement claim leaves for after its commit: closing stray jobs; the full claim, when keys need a look. */
	private afterOneStatementClaim(queue: string, claim: OneStatementClaim): void {
		if (claim.needsTheFullClaim) this.wake(queue);
		claim.closeStrayJobs(this.pool).catch((error: unknown) => this.strayJobsNotClosed(queue, error));
	}

	private strayJobsNotClosed(queue: string, error: unknown): void {
		this.log.warn({ err: error, queue }, 'could not close claimed jobs without a waiting task; pg-boss expires them');
	}

	reportClaimError(queue: string, error: unknown): void {
		this.log.error({ err: error, queue }, 'claiming due tasks failed; backing off');
	}

	/** The handler for one task: round robin over `handlersFor`, or a test handler claimed for it alone. */
	private async pickHandler(entry: QueueEntry, task: TaskRow): Promise<HandlerRow | undefined> {
		const handlers = handlersFor(entry, task.event);
		if (handlers.length === 0) return undefined;
		if (handlers[0].mode === 'test') {
			for (const handler of handlers) {
				// Taken in this engine's view at once (before any await), so the next claim round of
				// this queue no longer counts on it; the database decides whether the task really gets it.
				this.catalog.takeTestHandler(handler, task.id);
				if (await this.claimTestHandler(handler, task)) return handler;
				this.catalog.forgetTestHandler(handler, task.id);
			}
			// Taken by another engine, expired, or a production handler is healthy again: the unhealthy
			// production handlers if any, else none (the attempt is given back, uncharged).
			const others = handlersFor(entry, task.event);
			return others[0]?.mode === 'production' ? this.nextOf(entry, task.event, others) : undefined;
		}
		return this.nextOf(entry, task.event, handlers);
	}

	private nextOf(entry: QueueEntry, event: HandlerEvent, handlers: HandlerRow[]): HandlerRow {
		const key = `${entry.queue.name}\u0000${event}`;
		const next = (this.roundRobin.get(key) ?? 0) + 1;
		this.roundRobin.set(key, next);
		return handlers[next % handlers.length];
	}

	/** Claims a test handler for `task` in the database, and tells every engine's catalog; false when that fails. */
	private async claimTestHandler(handler: HandlerRow, task: TaskRow): Promise<boolean> {
		try {
			return await withTransaction(this.pool, async (tx) => {
				const claimed = await claimTestHandler(tx, { id: handler.id, taskId: task.id, event: task.event });
				if (claimed) await notify(tx, this.options.schema, 'queues', handler.queue);
				return claimed;
			});
		} catch (error) {
			this.log.warn({ err: error, handlerId: handler.id, taskId: task.id }, 'could not claim the test handler; not delivering to it');
			return false;
		}
	}

	/**
	 * After the delivery of a test handler's task, the handler is deleted. A delivery
	 * that was given back (the trigger was still starting, or this engine is stopping) did not reach
	 * the test, so the handler gets its task back instead. A failure here is only logged: the expiry
	 * service deletes the handler at the end of its 120 s anyway.
	 */
	private async finishTestDelivery(handler: HandlerRow, task: TaskRow, givenBack: boolean): Promise<void> {
		this.catalog.forgetTestHandler(handler, task.id);
		try {
			const released = await withTransaction(this.pool, async (tx) => {
				const c = { id: handler.id, taskId: task.id };
				const queue = givenBack ? await releaseTestHandler(tx, c) : await deleteSpentTestHandler(tx, c);
				if (queue !== null) await notify(tx, this.options.schema, 'queues', queue);
				return givenBack && queue !== null;
			});
			if (released) this.catalog.testHandlerGivenBack(handler, task.id);
		} catch (error) {
			this.log.warn({ err: error, handlerId: handler.id, taskId: task.id }, 'could not retire the test handler; it expires on its own');
		}
	}

	/** Starts the deliveries of tasks claimed together. */
	private deliverCohort(tasks: readonly TaskRow[], entry: QueueEntry): void {
		if (tasks.length === 0) return;
		const cohort = newCohort(tasks.length);
		this.followYoungCohorts(cohort.sentAt);
		this.unanswered.add(cohort);
		for (const task of tasks) this.deliver(task, entry, cohort);
	}

	private deliver(task: TaskRow, entry: QueueEntry, cohort: Cohort): void {
		const controller = new AbortController();
		const record = { controller, done: Promise.resolve(), releasing: false };
		record.done = this.attempt(task, entry, controller.signal, () => record.releasing, cohort)
			.catch((error: unknown) => {
				this.log.error({ err: error, taskId: task.id }, 'delivery bookkeeping failed; the rescuer will retry the task');
				return false;
			})
			.then((refilled) => {
				this.inFlight.delete(task.id);
				// A settlement that refilled the queue has claimed for the slot already; in a quiet queue
				// nothing waits for it (a task enqueued since ended the quiet).
				if (!refilled && !this.quietQueues.quiet(task.queue)) this.wake(task.queue);
			});
		this.inFlight.set(task.id, record);
	}

	private exchangeStarted(): void {
		this.exchanges += 1;
	}

	private exchangeEnded(): void {
		this.exchanges -= 1;
		if (this.exchanges === this.options.deliveryConcurrency - 1) this.wakeAll();
	}

	/** Delivers one attempt and has its result written; true when that write refilled the queue. */
	private async attempt(task: TaskRow, entry: QueueEntry, signal: AbortSignal, releasing: () => boolean, cohort: Cohort): Promise<boolean> {
		const handler = task.url === null ? await this.pickHandler(entry, task) : undefined;
		const now = new Date();
		const target = targetFor(task, entry.queue, handler, now);
		let outcome: DeliveryOutcome;
		if (target) {
			this.exchangeStarted();
			try {
				outcome = await this.client.send(taskDeliveryRequest(task, target, now), signal);
			} finally {
				this.exchangeEnded();
			}
		} else {
			// The last handler went away between claim and delivery: give the attempt back.
			outcome = { kind: 'retry', errorClass: 'aborted', error: 'no handler registered for the queue', durationMs: 0, responseSnippet: null };
		}
		const starting = handler !== undefined && handlerStarting(handler, outcome, now);
		// A 202 is never given back, even at shutdown: the handler has the work now.
		const release = outcome.kind !== 'accepted' && (!target || releasing() || starting);
		if (handler?.mode === 'test') await this.finishTestDelivery(handler, task, release);
		this.log.debug({ taskId: task.id, queue: task.queue, attempt: task.attemptCount, outcome: outcome.kind, statusCode: 'statusCode' in outcome ? outcome.statusCode : undefined, handlerStarting: starting }, 'attempt finished');
		if ((outcome.kind === 'retry' || outcome.kind === 'failed') && !release) {
			// Whether this was the last attempt is settlement's decision; the log says if the answer allows a retry.
			this.log.warn({ taskId: task.id, queue: task.queue, attempt: task.attemptCount, retryable: outcome.kind === 'retry', error: outcome.error }, 'attempt failed');
		}
		const releaseDelaySeconds = starting && outcome.kind === 'retry' ? Math.min(outcome.retryAfterSeconds ?? 1, HANDLER_STARTUP_MAX_WAIT_SECONDS) : 0;
		if (target) this.exchangeMsAverage = this.exchangeMsAverage === null ? outcome.durationMs : 0.9 * this.exchangeMsAverage + 0.1 * outcome.durationMs;
		this.answered(cohort);
		const written = await this.settlement.add({ task, startedAt: task.startedAt ?? now, outcome, handlerId: target?.handlerId ?? null, release, releaseDelaySeconds });
		for (const observer of this.observers) observer(task, outcome, release ? 'released' : written.settled);
		return written.refilled;
	}

	/** One more task of `cohort` has answered. */
	private answered(cohort: Cohort): void {
		cohort.pending -= 1;
		if (cohort.pending > 0) return;
		this.unanswered.delete(cohort);
		cohort.allAnswered();
	}

	/**
	 * Refill (settlement.ts): before the settlement writer starts a group, answers due within
	 * moments are waited for, so that they join it. Tasks claimed together were sent together and
	 * mostly answer together: the first answer to find the writer idle would otherwise be written
	 * alone while the rest of its cohort waits for that transaction (measured: a 1 + 9 split of every
	 * 10 slots at the default concurrency). And while the writer is busy, results that arrive form the
	 * next group, so a queue's slots split into two cohorts that take turns — two transactions per
	 * cycle of the slots instead of one (measured at concurrency 10, instant handler: 300 groups of
	 * 5 for 1,500 tasks). Waiting at most COHORT_LINGER_MS for the cohorts in flight merges them.
	 */
	answersDue(waiting: number): Promise<void> | null {
		const average = this.exchangeMsAverage;
		if (this.stopping || waiting >= COHORT_LINGER_MAX_GROUP || average === null || average > COHORT_LINGER_MAX_EXCHANGE_MS) return null;
		this.followYoungCohorts(performance.now());
		const due = [...this.unanswered].map((cohort) => cohort.answered);
		if (due.length === 0) return null;
		return new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, COHORT_LINGER_MS);
			void Promise.all(due).then(() => {
				clearTimeout(timer);
				resolve();
			});
		});
	}

	/**
	 * Forgets cohorts sent more than COHORT_LINGER_MAX_EXCHANGE_MS ago: slower than any answer worth
	 * waiting for (or one of their deliveries failed before answering, and they never complete).
	 */
	private followYoungCohorts(now: number): void {
		for (const cohort of this.unanswered) if (now - cohort.sentAt > COHORT_LINGER_MAX_EXCHANGE_MS) this.unanswered.delete(cohort);
	}

	/**
	 * Stops claiming, lets in-flight deliveries finish for up to `graceMs`, then aborts the rest and
	 * gives their attempts back (due again at once, not charged), so another engine picks them up.
	 */
	async stop(graceMs: number): Promise<void> {
		this.stopping = true;
		for (const loop of this.loops.values()) loop.stop();
		const all = () => Promise.all([...this.inFlight.values()].map((r) => r.done));
		let timer: NodeJS.Timeout | undefined;
		const timedOut = await Promise.race([
			all().then(() => false),
			new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
		]);
		clearTimeout(timer);
		if (timedOut) {
			this.log.warn({ inFlight: this.inFlight.size }, 'shutdown grace over; releasing in-flight deliveries');
			for (const record of this.inFlight.values()) {
				record.releasing = true;
				record.controller.abort();
			}
		}
		// Results that still cannot be written (the database is away) are given up after a last chance:
		// their leases run out and the rescuer of a running engine retries them.
		const written = await Promise.race([all().then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 5_000)))]);
		clearTimeout(timer);
		if (!written) {
			this.log.warn({ unwritten: this.settlement.backlog }, 'stopping with delivery results not written; their tasks will be retried');
			this.settlement.stop();
			await all();
		}
	}

	/** Whether this engine is delivering the task right now, or holds its result for writing. */
	isInFlight(taskId: string): boolean {
		return this.inFlight.has(taskId);
	}
}

/** How long after its registration a handler may still be starting up. */
const HANDLER_STARTUP_GRACE_MS = 30_000;
const HANDLER_STARTUP_MAX_WAIT_SECONDS = 5;

/**
 * A handler registered moments ago that says it is still starting (503 with
 * `x-task-handler-starting: true`) is not failing: a Task Trigger is registered before n8n has saved
 * its secret, and answers so until then. Such an attempt is given back rather than charged, so tasks
 * waiting for a re-activated workflow never burn their retries on its start. Only that explicit
 * answer counts (a plain 503 is an ordinary failure), and only inside a bounded window after the
 * registration, so a handler that keeps saying it is starting is charged as usual once past it.
 */
function handlerStarting(handler: HandlerRow, outcome: DeliveryOutcome, now: Date): boolean {
	if (outcome.kind !== 'retry' || outcome.handlerStarting !== true) return false;
	return now.getTime() - handler.createdAt.getTime() < HANDLER_STARTUP_GRACE_MS;
}

/** The claim loop of one queue. */
class QueueLoop {
	private woken = false;
	private stopped = false;
	private resolveSleep: (() => void) | null = null;

	constructor(
		private readonly name: string,
		private readonly dispatcher: Dispatcher,
	) {}

	wake(): void {
		this.woken = true;
		this.resolveSleep?.();
	}

	stop(): void {
		this.stopped = true;
		this.resolveSleep?.();
	}

	async run(): Promise<void> {
		let failures = 0;
		while (!this.stopped) {
			this.woken = false;
			let sleepMs: number | null;
			try {
				const round = await this.dispatcher.claimRound(this.name);
				if (round === 'gone') return;
				sleepMs = round.sleepMs;
				failures = 0;
			} catch (error) {
				// Database trouble: back off (up to 5 s) and try again; nothing is lost meanwhile.
				failures += 1;
				this.dispatcher.reportClaimError(this.name, error);
				sleepMs = Math.min(100 * 2 ** failures, 5000);
			}
			if (this.stopped) return;
			if (sleepMs === 0 || this.woken) continue;
			await this.sleep(sleepMs);
		}
	}

	private sleep(ms: number | null): Promise<void> {
		return new Promise((resolve) => {
			let timer: NodeJS.Timeout | undefined;
			const done = () => {
				clearTimeout(timer);
				this.resolveSleep = null;
				resolve();
			};
			if (ms !== null) timer = setTimeout(done, ms);
			this.resolveSleep = done;
		});
	}
}
