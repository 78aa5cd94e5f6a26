import type { Pool } from '../db/pool.js';
import { invalidField } from '../errors.js';
import { countDeadLetters, deleteDeadLetters, groupDeadLetters, selectDeadLetterIds, type DeadLetterGroup, type DeadLetterSelector } from './deadLetterSql.js';
import type { TaskService } from './taskService.js';

/** Redrive moves at most this many per call; callers loop for more (the answer says how many remain). */
export const REDRIVE_LIMIT = 10_000;

/**
 * Dead letters — tasks that ended `failed` — grouped by the cause of their last failure, put back in
 * line (redrive: same id, attempt numbers continue, a fresh budget) or discarded. Redrive goes
 * through the task service, which owns every move of a task and its dispatch job.
 */
export class DeadLetterService {
	constructor(
		private readonly pool: Pool,
		private readonly tasks: TaskService,
	) {}

	groups(queue: string | undefined): Promise<DeadLetterGroup[]> {
		return groupDeadLetters(this.pool, { queue });
	}

	async redrive(selector: DeadLetterSelector): Promise<{ taskIds: string[]; remaining: number }> {
		requireSelector(selector);
		const ids = await selectDeadLetterIds(this.pool, selector, REDRIVE_LIMIT);
		const moved = await this.tasks.requeue(ids);
		return { taskIds: moved.map((t) => t.id), remaining: await countDeadLetters(this.pool, selector) };
	}

	discard(selector: DeadLetterSelector): Promise<number> {
		requireSelector(selector);
		return deleteDeadLetters(this.pool, selector);
	}
}

/** A redrive or discard must say which dead letters: everything at once is never implied. */
function requireSelector(s: DeadLetterSelector): void {
	if (s.queue === undefined && s.ids === undefined && s.signature === undefined) {
		throw invalidField('queue', 'or ids or signature is required (at least one selector)');
	}
}
