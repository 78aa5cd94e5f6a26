import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Logger } from '../log.js';

/** V8's collector as `--expose-gc` gives it (the engine's launcher line passes that flag). */
export type CollectGarbage = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export interface IdleMemoryOptions {
	/** How often to look, in ms. */
	intervalMs: number;
	/** Share of an interval the event loop may have been busy for the engine to count as idle. */
	idleBelow: number;
	/** Growth of the heap since the last collection, in bytes, worth a collection to give back. */
	growthBytes: number;
}

export const IDLE_MEMORY_DEFAULTS: IdleMemoryOptions = { intervalMs: 1_000, idleBelow: 0.02, growthBytes: 8 * 1024 * 1024 };

/** What the engine reads of itself; tests give their own. */
export interface MemoryProbes {
	heap(): { total: number; used: number };
	/** The event loop's utilisation since `last` (perf_hooks). */
	loop(last?: EventLoopUtilization): EventLoopUtilization;
}

const processProbes: MemoryProbes = {
	heap: () => {
		const h = v8.getHeapStatistics();
		return { total: h.total_heap_size, used: h.used_heap_size };
	},
	loop: (last) => performance.eventLoopUtilization(last),
};

/**
 * Gives memory back once a burst of work is over. V8 grows its heap while deliveries are in flight
 * and keeps it afterwards: measured, an engine idle again after delivering 20,000 tasks held
 * 160–190 MiB of RSS for as long as it was watched (20 s), against ~120 MiB at start; its heap was
 * ~70 MiB, of which ~35 MiB live. So when the event loop has been idle for a whole interval and the
 * heap has grown by `growthBytes` since the last collection (or since start), V8's most thorough
 * collection is run — the one that also hands free pages back to the operating system (a regular
 * major collection left the heap at ~60 MiB). It takes ~100 ms on such a heap, at a moment nothing
 * is waiting. Without `--expose-gc` (node started without the launcher's flags) this does nothing.
 */
export class IdleMemory {
	private timer: NodeJS.Timeout | null = null;
	private last: EventLoopUtilization;
	/** The heap size after the last collection (0 before any). */
	private collectedAt = 0;

	constructor(
		private readonly collect: CollectGarbage | undefined,
		private readonly log: Logger,
		private readonly options: IdleMemoryOptions = IDLE_MEMORY_DEFAULTS,
		private readonly probes: MemoryProbes = processProbes,
	) {
		this.last = probes.loop();
	}

	start(): void {
		if (!this.collect || this.timer) return;
		this.timer = setInterval(() => this.check(), this.options.intervalMs);
		this.timer.unref();
	}

	stop(): void {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
	}

	/** One look: collects when the interval since the last look was idle and the heap has grown. True when it collected. */
	check(): boolean {
		const now = this.probes.loop();
		const busy = this.probes.loop(this.last).utilization;
		this.last = now;
		if (!this.collect || busy >= this.options.idleBelow) return false;
		if (this.probes.heap().total < this.collectedAt + this.options.growthBytes) return false;
		this.collectNow('idle');
		return true;
	}

	/**
	 * Collects now, whatever the engine is doing: at the end of start-up, whose module loading and
	 * migrations leave ~15 MiB of heap behind (RSS ~123 MiB when the engine is up, ~106 after).
	 */
	collectNow(why: 'idle' | 'start-up'): void {
		if (!this.collect) return;
		const before = this.probes.heap();
		const started = performance.now();
		this.collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
		const after = this.probes.heap();
		this.collectedAt = after.total;
		// The collection's own time is not the engine being busy.
		this.last = this.probes.loop();
		const mib = (bytes: number) => Math.round(bytes / 1048576);
		this.log.debug({ why, heapMiB: [mib(before.total), mib(after.total)], usedMiB: mib(after.used), ms: Math.round(performance.now() - started) }, 'heap given back');
	}
}

/** `gc` when node runs with `--expose-gc`. */
export function exposedCollector(): CollectGarbage | undefined {
	const gc = (globalThis as { gc?: unknown }).gc;
	return typeof gc === 'function' ? (gc as CollectGarbage) : undefined;
}
