import type { Pool } from '../db/pool.js';
import { listAllHandlers, type HandlerEvent, type HandlerRow } from './handlerSql.js';
import { getQueue, listAllQueues, type QueueRow } from './queueSql.js';
import { listHandlers } from './handlerSql.js';

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
	/** Reloads under way, by queue. */
	private readonly reloads = new Map<string, Promise<QueueEntry | undefined>>();
	private readonly listeners = new Set<(name: string) => void>();

	constructor(private readonly pool: Pool) {}

	async loadAll(): Promise<void> {
		const [queues, handlers] = await Promise.all([listAllQueues(this.pool), listAllHandlers(this.pool)]);
		const next = new Map<string, QueueEntry>();
		for (const queue of queues) next.set(queue.name, { queue, handlers: [] });
		for (const h of handlers) next.get(h.queue)?.handlers.push(h);
		const changed = new Set([...this.entries.keys(), ...next.keys()]);
		this.entries = next;
		for (const name of changed) this.emit(name);
	}

	/** Reads a queue's entry again (another engine announced a change to it). */
	reload(name: string): Promise<QueueEntry | undefined> {
		const running = this.load(name).finally(() => {
			if (this.reloads.get(name) === running) this.reloads.delete(name);
		});
		this.reloads.set(name, running);
		return running;
	}

	private async load(name: string): Promise<QueueEntry | undefined> {
		const queue = await getQueue(this.pool, name);
		if (!queue) this.entries.delete(name);
		else this.entries.set(name, { queue, handlers: await listHandlers(this.pool, name) });
		this.emit(name);
		return this.entries.get(name);
	}

	/**
	 * The queue's entry once a reload of it under way has finished. A change is announced before the
	 * work that follows it (a secret rotated, then a task enqueued): a claim must not build
	 * deliveries from the entry the change replaces.
	 */
	async settled(name: string): Promise<QueueEntry | undefined> {
		await this.reloads.get(name)?.catch(() => undefined);
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
