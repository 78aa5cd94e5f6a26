/**
 * A task's states, and which module moves a task out of each. Mirrored by the CHECK on
 * `tasks.state`, which holds every state but `scheduled`: a scheduled task is stored as `queued`
 * with a `due_at` still ahead, so no writer has to flip it when the time comes.
 */
export const TaskState = {
	/** Not yet due (stored as `queued`, `due_at` > now). Becomes `queued` by the passing of time. */
	scheduled: 'scheduled',
	/** Due and waiting for a delivery slot. The dispatcher (delivery/dispatcher.ts) claims it → `active`. */
	queued: 'queued',
	/** Being delivered by one engine. Settlement (delivery/settlement.ts) or the rescuer (maintenance/deliveryRescuer.ts) moves it on. */
	active: 'active',
	/** An attempt failed and another is due at `due_at`. The dispatcher claims it again → `active`. */
	retrying: 'retrying',
	/** A handler answered 2xx. Final. */
	completed: 'completed',
	/** Attempts exhausted or a non-retryable answer: a dead letter. Redrive or retry → `queued`. */
	failed: 'failed',
	/** Cancelled before it ran. Retry → `queued`. */
	cancelled: 'cancelled',
} as const;

export type TaskState = (typeof TaskState)[keyof typeof TaskState];
export type StoredTaskState = Exclude<TaskState, 'scheduled'>;

export const TASK_STATES = Object.values(TaskState);
export const FINAL_STATES: readonly TaskState[] = ['completed', 'failed', 'cancelled'];
