import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import { channelName } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import type { QueueCatalog } from '../queues/queueCatalog.js';
import { listAttempts } from './attemptSql.js';
import type { TaskChange, TaskEvents } from './taskEvents.js';
import { presentTask } from './taskService.js';
import { insertTasks, TASK_COLUMNS, type NewTask, type TaskRow } from './taskSql.js';

/** The name of the tasks that carry dead-letter events, and the `type` of their body. */
export const DEAD_LETTER_EVENT = 'task.dead_lettered';

/**
 * Dead-letter events (docs/async-completion.md): when a task becomes a dead letter (`failed`) in a
 * queue that has handlers registered for `dead_letter` events, a task carrying the news is written
 * in the same transaction: `{ type: "task.dead_lettered", task: <the task with its attempts> }`,
 * delivered to those handlers with its own id, signed and retried like any task. The failure of
 * such an event is never announced in turn.
 */
export class DeadLetterEvents {
	constructor(
		private readonly deps: {
			dispatch: DispatchQueue;
			schema: string;
			catalog: QueueCatalog;
			idempotencyWindowSeconds: number;
		},
	) {}

	listen(events: TaskEvents): void {
		events.onFinished((db, tasks) => this.announce(db, tasks), (task) => task.state === 'failed' && this.hasSubscribers(task.queue));
	}

	private hasSubscribers(queue: string): boolean {
		return this.deps.catalog.get(queue)?.handlers.some((h) => h.events.includes('dead_letter')) ?? false;
	}

	private async announce(db: Queryable, changes: TaskChange[]): Promise<void> {
		const ids = changes.filter((c) => c.state === 'failed' && this.hasSubscribers(c.queue)).map((c) => c.id);
		if (ids.length === 0) return;
		const { rows } = await db.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks t WHERE t.id = ANY($1::uuid[]) AND t.event <> 'dead_letter'`, [ids]);
		const news: NewTask[] = [];
		for (const task of rows) {
			const attempts = await listAttempts(db, task.id);
			news.push({
				id: randomUUID(),
				jobId: randomUUID(),
				queue: task.queue,
				name: DEAD_LETTER_EVENT,
				payload: { type: DEAD_LETTER_EVENT, task: presentTask(task, attempts) },
				priority: task.priority,
				retry: task.retry,
				timeoutSeconds: task.timeoutSeconds,
				url: null,
				idempotencyKey: null,
				delaySeconds: null,
				runAt: null,
				event: 'dead_letter',
			});
		}
		await insertTasks(db, this.deps.dispatch.jobs, news, this.deps.idempotencyWindowSeconds, channelName(this.deps.schema, 'tasks'));
	}
}
