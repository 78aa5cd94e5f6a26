/**
 * The advisory lock that makes engines take turns claiming from one queue: while it is held, the
 * count of active tasks cannot change under the claimer except by its own hand, so the queue's
 * concurrency limit (deliveries in flight across every engine) and its shared rate limit are exact.
 */
export function dispatchLock(schema: string, queue: string): string {
	return `task-engine:dispatch:${schema}:${queue}`;
}
