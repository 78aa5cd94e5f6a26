import type { Queryable } from '../db/pool.js';
import { listAllHandlers, listHandlers, type HandlerEvent, type HandlerRow } from './handlerSql.js';
import { getQueue, listAllQueues, type QueueRow } from './queueSql.js';

export interface QueueEntry {
	queue: QueueRow;
	handlers: HandlerRow[];
}

/**
 * Each engine's in-memory view of queues and handlers, for the hot paths (enqueue defaults,
 * choosing a handler, paused flags). Reloaded per queue when another engine announces a change,
 * and fully on a timer as a safety net, so a missed notification only delays a change.
 */
export class QueueCatalog {
	private entries = new Map<string, QueueEntry>();
	/** Reloads under way, by queue, and the one to run after each. */
	private readonly reloads = new Map<string, Promise<QueueEntry | undefined>>();
	private readonly followUps = new Map<string, Promise<QueueEntry | undefined>>();
	private readonly listeners = new Set<(name: string) => void>();
	/**
	 * Loads started so far, and for each queue the number of the load its entry came from. Loads
	 * overlap (a notification, the periodic refresh): one that read the database earlier must not
	 * replace what a later one put there.
	 */
	private loadsStarted = 0;
	private readonly loadedBy = new Map<string, number>();
	/**
	 * Test handlers this engine has taken for a task, by id, laid over what loads read. A load that
	 * read the database before the claim committed would otherwise offer the handler again, and a
	 * second task would be claimed only to be given back. Once the dispatcher is done with the
	 * handler (`until`: the loads started by then), only those older loads still get the overlay. A
	 * registration of the handler since (a new test, `registeredAt` moved) is shown as the database has it.
	 */
	private readonly testHandlersTaken = new Map<string, { queue: string; registeredAt: number; taskId: string; until: number | null }>();

	constructor(private readonly pool: Queryable) {}

	async loadAll(): Promise<void> {
		const load = ++this.loadsStarted;
		const [queues, handlers] = await Promise.all([listAllQueues(this.pool), listAllHandlers(this.pool)]);
		const read = new Map<string, QueueEntry>();
		for (const queue of queues) read.set(queue.name, { queue, handlers: [] });
		for (const h of handlers) read.get(h.queue)?.handlers.push(h);
		const changed = new Set([...this.entries.keys(), ...read.keys()]);
		for (const name of changed) this.apply(name, read.get(name), load);
		for (const name of changed) this.emit(name);
	}

	/**
	 * Reads a queue's entry again (a change to it was announced). While a load of the queue is under
	 * way, it may have read before the change: one more load follows it, however many announcements
	 * come meanwhile.
	 */
	reload(name: string): Promise<QueueEntry | undefined> {
		const running = this.reloads.get(name);
		if (running) {
			let next = this.followUps.get(name);
			if (!next) {
				next = running
					.catch(() => undefined)
					.then(() => {
						this.followUps.delete(name);
						return this.reload(name);
					});
				this.followUps.set(name, next);
			}
			return next;
		}
		const load = this.load(name).finally(() => {
			if (this.reloads.get(name) === load) this.reloads.delete(name);
		});
		this.reloads.set(name, load);
		return load;
	}

	private async load(name: string): Promise<QueueEntry | undefined> {
		const load = ++this.loadsStarted;
		const queue = await getQueue(this.pool, name);
		this.apply(name, queue ? { queue, handlers: await listHandlers(this.pool, name) } : undefined, load);
		this.emit(name);
		return this.entries.get(name);
	}

	/** Puts what load number `load` read in place, unless a later load got there first. */
	private apply(name: string, entry: QueueEntry | undefined, load: number): void {
		if ((this.loadedBy.get(name) ?? 0) > load) return;
		this.loadedBy.set(name, load);
		for (const [id, taken] of this.testHandlersTaken) {
			// No load older than this one can be applied to the queue any more.
			if (taken.queue === name && taken.until !== null && taken.until < load) this.testHandlersTaken.delete(id);
		}
		if (!entry) {
			this.entries.delete(name);
			return;
		}
		for (const h of entry.handlers) {
			const taken = this.testHandlersTaken.get(h.id);
			if (h.testTaskId === null && taken?.registeredAt === h.createdAt.getTime()) h.testTaskId = taken.taskId;
		}
		this.entries.set(name, entry);
	}

	/** Takes a test handler for one task in this engine's view, before its claim goes to the database. */
	takeTestHandler(handler: HandlerRow, taskId: string): void {
		// The caller's entry may already have been replaced by a load: the current one is marked too.
		for (const h of [handler, this.currentRow(handler)]) if (h) h.testTaskId = taskId;
		this.testHandlersTaken.set(handler.id, { queue: handler.queue, registeredAt: handler.createdAt.getTime(), taskId, until: null });
	}

	/**
	 * The dispatcher is done with a test handler it took: its claim failed, or the delivery ended and
	 * the handler is about to be deleted or given its task back. Loads started from now on show the
	 * database's state; the claim committed before any of them, if it did at all.
	 */
	forgetTestHandler(handler: HandlerRow, taskId: string): void {
		const taken = this.testHandlersTaken.get(handler.id);
		if (taken?.taskId === taskId) taken.until = this.loadsStarted;
	}

	/** A test handler has its task back (committed): offered again at once, without waiting for a load. */
	testHandlerGivenBack(handler: HandlerRow, taskId: string): void {
		for (const h of [handler, this.currentRow(handler)]) if (h?.testTaskId === taskId) h.testTaskId = null;
	}

	private currentRow(handler: HandlerRow): HandlerRow | undefined {
		return this.entries.get(handler.queue)?.handlers.find((h) => h.id === handler.id);
	}

	/**
	 * The queue's entry once a reload of it under way has finished. A change is announced before the
	 * work that follows it (a secret rotated, then a task enqueued): a claim must not build
	 * deliveries from the entry the change replaces.
	 */
	async settled(name: string): Promise<QueueEntry | undefined> {
		await (this.followUps.get(name) ?? this.reloads.get(name))?.catch(() => undefined);
		return this.entries.get(name);
	}

	get(name: string): QueueEntry | undefined {
		return this.entries.get(name);
	}

	names(): string[] {
		return [...this.entries.keys()];
	}

	/** Called with a queue's name whenever its entry may have changed. */
	onChange(listener: (name: string) => void): void {
		this.listeners.add(listener);
	}

	private emit(name: string): void {
		for (const listener of this.listeners) listener(name);
	}
}

/**
 * Handlers that take deliveries of `event`, best first:
 * - the healthy production handlers;
 * - else the test handlers (an n8n editor "listening for a test event") that have not had their one
 *   task yet: the dispatcher claims one in the database before delivering to it (`claimTestHandler`,
 *   which also makes sure that no production handler is healthy), so testing never steals live
 *   traffic and never takes more than one task;
 * - else the unhealthy production handlers: deliveries keep going to them, each attempt is also the
 *   probe that finds a handler back (and retries are spaced by backoff).
 */
export function handlersFor(entry: QueueEntry, event: HandlerEvent): HandlerRow[] {
	const forEvent = entry.handlers.filter((h) => h.events.includes(event));
	const production = forEvent.filter((h) => h.mode === 'production');
	const healthy = production.filter((h) => h.healthy);
	if (healthy.length > 0) return healthy;
	const test = forEvent.filter((h) => h.mode === 'test' && h.testTaskId === null);
	return test.length > 0 ? test : production;
}
