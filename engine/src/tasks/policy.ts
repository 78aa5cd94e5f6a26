import { PRIORITY_CLASS_DEFAULTS, priorityClassOf, type RetryPolicy } from '../delivery/retryPolicy.js';

export type PartialRetryPolicy = Partial<RetryPolicy>;

/** Named priorities and their integer values (higher is delivered first). */
export const PRIORITY_NAMES = { high: 10, normal: 0, low: -10 } as const;
export type PriorityName = keyof typeof PRIORITY_NAMES;

export function priorityValue(priority: PriorityName | number | null | undefined): number | undefined {
	if (priority === null || priority === undefined) return undefined;
	return typeof priority === 'number' ? priority : PRIORITY_NAMES[priority];
}

export interface PolicyLayer {
	priority?: number | null;
	retry?: PartialRetryPolicy | null;
	timeoutSeconds?: number | null;
}

export interface ResolvedPolicy {
	priority: number;
	retry: RetryPolicy;
	timeoutSeconds: number;
}

/**
 * Merges a task's policy field by field: task over queue over the defaults of the priority class
 * (high = 5 retries / 30 s, normal = 3 / 60 s, low = 2 / 300 s). The class follows the effective
 * priority, so a queue whose default priority is `high` gives its tasks the high defaults too.
 */
export function resolvePolicy(task: PolicyLayer, queue: PolicyLayer): ResolvedPolicy {
	const priority = task.priority ?? queue.priority ?? 0;
	const classDefaults = PRIORITY_CLASS_DEFAULTS[priorityClassOf(priority)];
	const retry: RetryPolicy = { ...classDefaults.retry };
	for (const layer of [queue.retry, task.retry]) {
		if (!layer) continue;
		for (const [key, value] of Object.entries(layer) as [keyof RetryPolicy, never][]) {
			if (value !== undefined && value !== null) retry[key] = value;
		}
	}
	return {
		priority,
		retry,
		timeoutSeconds: task.timeoutSeconds ?? queue.timeoutSeconds ?? classDefaults.timeoutSeconds,
	};
}
