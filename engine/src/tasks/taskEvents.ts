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
	private readonly finished: ((db: Queryable, tasks: TaskChange[]) => Promise<void>)[] = [];
	private readonly requeued: ((db: Queryable, tasks: TaskChange[]) => Promise<void>)[] = [];

	/** Tasks that reached `completed` or `failed` (delivery, rescue). */
	onFinished(hook: (db: Queryable, tasks: TaskChange[]) => Promise<void>): void {
		this.finished.push(hook);
	}

	/** Failed or cancelled tasks put back in line (retry, redrive). */
	onRequeued(hook: (db: Queryable, tasks: TaskChange[]) => Promise<void>): void {
		this.requeued.push(hook);
	}

	async finishedIn(db: Queryable, tasks: TaskChange[]): Promise<void> {
		if (tasks.length === 0) return;
		for (const hook of this.finished) await hook(db, tasks);
	}

	async requeuedIn(db: Queryable, tasks: TaskChange[]): Promise<void> {
		if (tasks.length === 0) return;
		for (const hook of this.requeued) await hook(db, tasks);
	}
}
