import type { Queryable } from '../db/pool.js';

/** A task that changed state, as hooks see it. */
export interface TaskChange {
	id: string;
	queue: string;
	state: string;
	batchId: string | null;
}

/**
 * Hooks that run inside the transaction that changes tasks, so whatever they keep (batch counters,
 * say) can never disagree with the tasks themselves. Registered once at start-up in app.ts.
 */
export class TaskEvents {
	private readonly finished: FinishedHook[] = [];
	private readonly requeued: ((db: Queryable, tasks: TaskChange[]) => Promise<void>)[] = [];

	/**
	 * Tasks that reached `completed` or `failed` (delivery, rescue). `wants` says which changes the
	 * hook acts on; a settlement none of whose changes any hook wants writes in one round trip.
	 */
	onFinished(run: (db: Queryable, tasks: TaskChange[]) => Promise<void>, wants: (task: TaskChange) => boolean = () => true): void {
		this.finished.push({ run, wants });
	}

	/** Failed or cancelled tasks put back in line (retry, redrive). */
	onRequeued(hook: (db: Queryable, tasks: TaskChange[]) => Promise<void>): void {
		this.requeued.push(hook);
	}

	/** The finished-hooks that want any of these changes (asked before the transaction that makes them). */
	finishedHooksFor(tasks: readonly TaskChange[]): readonly FinishedHook[] {
		return this.finished.filter((hook) => tasks.some(hook.wants));
	}

	/** Runs finished-hooks (all of them unless given) on the tasks that finished. */
	async finishedIn(db: Queryable, tasks: TaskChange[], hooks: readonly FinishedHook[] = this.finished): Promise<void> {
		if (tasks.length === 0) return;
		for (const hook of hooks) await hook.run(db, tasks);
	}

	async requeuedIn(db: Queryable, tasks: TaskChange[]): Promise<void> {
		if (tasks.length === 0) return;
		for (const hook of this.requeued) await hook(db, tasks);
	}
}

export interface FinishedHook {
	run: (db: Queryable, tasks: TaskChange[]) => Promise<void>;
	wants: (task: TaskChange) => boolean;
}
