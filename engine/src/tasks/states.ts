/**
 * A task's states, and which module moves a task out of each. Mirrored by the CHECK on
 * `tasks.state`, which holds every state but `scheduled`: a scheduled task is stored as `queued`
 * with a `due_at` still ahead, so no writer has to flip it when the time comes.
 *
 * Every statement that writes `tasks`, by module (the SQL lives in these files only):
 * - tasks/taskSql.ts — insert (enqueue, schedules, batches, dead-letter events all insert through
 *   it), cancel, requeue (retry, redrive, batch re-runs), a schedule's tasks withdrawn ahead;
 * - tasks/claimSql.ts — queued/retrying → active, or parked behind the task's key;
 * - tasks/settleSql.ts — active → completed/retrying/failed, or an async attempt opened (202);
 * - tasks/attemptReports.ts — an open async attempt's heartbeat (deadline, progress);
 * - tasks/debounceSql.ts — a debounce join (payload, due time, job) and a group closed;
 * - tasks/deadLetterSql.ts — discarded dead letters deleted;
 * - flowControl/keySql.ts — parked tasks woken (unparked, given a job);
 * - maintenance/retentionCleaner.ts — finished tasks past their retention deleted.
 */
export const TaskState = {
	/** Not yet due (stored as `queued`, `due_at` > now). Becomes `queued` by the passing of time; a debounce join may move `due_at`. */
	scheduled: 'scheduled',
	/**
	 * Due and waiting for a delivery slot. The claim (delivery/claim.ts) takes it → `active`; when its
	 * concurrency key is at its limit the claim parks it instead (still `queued`, no dispatch job)
	 * until the key wakes (flowControl/keySql.ts). Cancel → `cancelled`.
	 */
	queued: 'queued',
	/**
	 * Being delivered by one engine, or an async attempt open (202). Settlement (delivery/settlement.ts),
	 * the rescuer (maintenance/deliveryRescuer.ts) or a handler's report (tasks/attemptReports.ts) moves it on.
	 */
	active: 'active',
	/** An attempt failed and another is due at `due_at`. The claim takes it again → `active`; cancel → `cancelled`. */
	retrying: 'retrying',
	/** A handler answered 2xx (or reported complete). Final. */
	completed: 'completed',
	/** Attempts exhausted or a non-retryable answer: a dead letter. Redrive or retry → `queued`. */
	failed: 'failed',
	/** Cancelled before it ran (a task, a batch, a schedule's withdrawn occurrence). Retry → `queued`. */
	cancelled: 'cancelled',
} as const;

export type TaskState = (typeof TaskState)[keyof typeof TaskState];
export type StoredTaskState = Exclude<TaskState, 'scheduled'>;

export const TASK_STATES = Object.values(TaskState);
export const FINAL_STATES: readonly TaskState[] = ['completed', 'failed', 'cancelled'];
