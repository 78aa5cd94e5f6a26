import type { IDataObject, INodeProperties } from 'n8n-workflow';

/**
 * Task delivery policy: priority, retry policy and attempt timeout, and how they become the
 * engine's fields. A field not set falls back to the queue's setting, then to the defaults of the
 * task's priority class: task over queue over class, field by field.
 *
 * Two forms: `taskPolicyOptions`, every field a loose option of an "Options" collection (Enqueue
 * Task, Batch Process and Schedule Task 1), and the grouped form of their versions 1.1: Priority
 * and Timeout among the options, the four retry fields in one "Retry" section, each
 * saying what it inherits and, once added, starting at the chosen priority class's default.
 */
export const taskPolicyOptions: INodeProperties[] = [
	{
		displayName: 'Priority',
		name: 'priority',
		type: 'options',
		options: [
			{ name: 'High', value: 'high', description: 'Runs first; 5 retries and a 30 s timeout by default' },
			{ name: 'Normal', value: 'normal', description: '3 retries and a 60 s timeout by default' },
			{ name: 'Low', value: 'low', description: 'Runs last; 2 retries and a 300 s timeout by default' },
		],
		default: 'normal',
		description: 'Order among due tasks of the queue, and the class of default retries and timeout',
	},
	{
		displayName: 'Retry Backoff',
		name: 'retryBackoff',
		type: 'options',
		options: [
			{ name: 'Exponential', value: 'exponential', description: 'Base delay, then twice as long each time' },
			{ name: 'Fixed', value: 'fixed', description: 'The base delay every time' },
		],
		default: 'exponential',
		description: 'How the wait between attempts grows',
	},
	{
		displayName: 'Retry Base Delay (Seconds)',
		name: 'retryDelaySeconds',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 86400 },
		default: 60,
		description: 'Wait before the first retry; jitter of ±25 % is added',
	},
	{
		displayName: 'Retry Limit',
		name: 'retryLimit',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 100 },
		default: 3,
		description: 'How many times a failed delivery is retried after the first attempt',
	},
	{
		displayName: 'Retry Max Delay (Seconds)',
		name: 'retryMaxDelaySeconds',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 604800 },
		default: 3600,
		description: 'Upper bound of one wait, also for a Retry-After the handler asks for',
	},
	{
		displayName: 'Timeout (Seconds)',
		name: 'timeoutSeconds',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 3600 },
		default: 60,
		description: 'How long one delivery attempt may take before it counts as failed',
	},
];

/** The engine fields (`priority`, `retry`, `timeoutSeconds`) for the options the user set. */
export function taskPolicyFields(options: IDataObject): IDataObject {
	const fields: IDataObject = {};
	if (options.priority !== undefined) fields.priority = options.priority;
	if (options.timeoutSeconds !== undefined) fields.timeoutSeconds = options.timeoutSeconds;
	const retry: IDataObject = {};
	if (options.retryLimit !== undefined) retry.limit = options.retryLimit;
	if (options.retryBackoff !== undefined) retry.backoff = options.retryBackoff;
	if (options.retryDelaySeconds !== undefined) retry.delaySeconds = options.retryDelaySeconds;
	if (options.retryMaxDelaySeconds !== undefined) retry.maxDelaySeconds = options.retryMaxDelaySeconds;
	if (Object.keys(retry).length > 0) fields.retry = retry;
	return fields;
}

// ---- The grouped form (node versions 1.1) ------------------------------------------------------

type PriorityClass = 'high' | 'normal' | 'low';

interface ClassDefaults {
	retries: number;
	timeoutSeconds: number;
	label: string;
}

/** The engine's defaults per priority class, as the descriptions state them. */
const CLASS_DEFAULTS: Record<PriorityClass, ClassDefaults> = {
	high: { retries: 5, timeoutSeconds: 30, label: 'High' },
	normal: { retries: 3, timeoutSeconds: 60, label: 'Normal' },
	low: { retries: 2, timeoutSeconds: 300, label: 'Low' },
};

/**
 * One variant of a field per priority class, each shown while that class is chosen in the Priority
 * option at `priorityPath` (Normal also while none is: the engine's default), so that a field added
 * to override starts at the chosen class's default rather than silently at another class's. n8n's
 * collections pick the displayed variant of a name; a priority given as an expression shows Normal's.
 */
function perPriorityClass(priorityPath: string, variant: (defaults: ClassDefaults) => INodeProperties): INodeProperties[] {
	// `hide` rules only: n8n shows a parameter whose `show` rule meets an unresolved expression, so a
	// `show` would offer every variant at once for a priority given as an expression.
	return [
		{ ...variant(CLASS_DEFAULTS.high), displayOptions: { hide: { [priorityPath]: [{ _cnd: { not: 'high' } }] } } },
		{ ...variant(CLASS_DEFAULTS.low), displayOptions: { hide: { [priorityPath]: [{ _cnd: { not: 'low' } }] } } },
		{ ...variant(CLASS_DEFAULTS.normal), displayOptions: { hide: { [priorityPath]: ['high', 'low'] } } },
	];
}

/** Priority, for an "Options" collection; where it is not set, the queue's priority applies, else Normal. */
export const priorityOption: INodeProperties = {
	displayName: 'Priority',
	name: 'priority',
	type: 'options',
	options: [
		{ name: 'High', value: 'high', description: 'Delivered first; by default 5 retries and a 30 s timeout' },
		{ name: 'Normal', value: 'normal', description: 'By default 3 retries and a 60 s timeout' },
		{ name: 'Low', value: 'low', description: 'Delivered last; by default 2 retries and a 300 s timeout' },
	],
	default: 'normal',
	description:
		"Order among the queue's due tasks, and the class whose retries and timeout apply where none is set. Not set: the queue's priority, else Normal.",
};

/** Timeout, for the "Options" collection that holds `priorityOption` (it follows the Priority chosen there). */
export const timeoutOptions: INodeProperties[] = perPriorityClass('priority', ({ timeoutSeconds, label }) => ({
	displayName: 'Timeout (Seconds)',
	name: 'timeoutSeconds',
	type: 'number',
	typeOptions: { minValue: 1, maxValue: 3600 },
	default: timeoutSeconds,
	description: `How long one delivery attempt may take before it counts as failed. Not set: the queue's timeout, else the priority class's (High 30 s, Normal 60 s, Low 300 s); this one starts at ${label}'s.`,
}));

/**
 * The "Retry" section: a collection of its own, each field inherited until added. `priorityPath`
 * is the root path of the Priority option (e.g. `/options.priority`).
 */
export function retrySection(priorityPath: string): INodeProperties {
	return {
		displayName: 'Retry',
		name: 'retry',
		type: 'collection',
		placeholder: 'Add Retry Setting',
		default: {},
		description:
			"How failed deliveries are retried. A setting not added here is inherited: the queue's, else the priority class's (High 5 retries, Normal 3, Low 2; exponential backoff from 60 s, at most 1 hour).",
		options: [
			{
				displayName: 'Backoff',
				name: 'backoff',
				type: 'options',
				options: [
					{ name: 'Exponential', value: 'exponential', description: 'Base delay, then twice as long each time' },
					{ name: 'Fixed', value: 'fixed', description: 'The base delay every time' },
				],
				default: 'exponential',
				description: "How the wait between attempts grows. Not set: the queue's, else exponential.",
			},
			{
				displayName: 'Base Delay (Seconds)',
				name: 'delaySeconds',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 86400 },
				default: 60,
				description: "Wait before the first retry; jitter of ±25 % is added. Not set: the queue's, else 60 s.",
			},
			{
				displayName: 'Max Delay (Seconds)',
				name: 'maxDelaySeconds',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 604800 },
				default: 3600,
				description: "Upper bound of one wait, also for a Retry-After the handler asks for. Not set: the queue's, else 3,600 s.",
			},
			...perPriorityClass(priorityPath, ({ retries, label }) => ({
				displayName: 'Max Retries',
				name: 'maxRetries',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 100 },
				default: retries,
				description: `How many times a failed delivery is retried after the first attempt. Not set: the queue's limit, else the priority class's (High 5, Normal 3, Low 2); this one starts at ${label}'s.`,
			})),
		],
	};
}

/** The engine fields for the grouped form: Priority and Timeout from `options`, the Retry section as `retry`. */
export function groupedTaskPolicyFields(options: IDataObject, retry: IDataObject): IDataObject {
	const fields: IDataObject = {};
	if (options.priority !== undefined) fields.priority = options.priority;
	if (options.timeoutSeconds !== undefined) fields.timeoutSeconds = options.timeoutSeconds;
	const policy: IDataObject = {};
	if (retry.maxRetries !== undefined) policy.limit = retry.maxRetries;
	for (const key of ['backoff', 'delaySeconds', 'maxDelaySeconds']) {
		if (retry[key] !== undefined) policy[key] = retry[key];
	}
	if (Object.keys(policy).length > 0) fields.retry = policy;
	return fields;
}

/** The engine's integer priorities of the named classes. */
const PRIORITY_NAMES = new Map<number, PriorityClass>([
	[10, 'high'],
	[0, 'normal'],
	[-10, 'low'],
]);

/**
 * A task as the node outputs it from version 1.1: `priority` named like the form's classes (`high`,
 * `normal`, `low`) where the engine's integer is one of theirs; any other integer stays a number.
 */
export function withPriorityName(task: IDataObject): IDataObject {
	const name = typeof task.priority === 'number' ? PRIORITY_NAMES.get(task.priority) : undefined;
	return name === undefined ? task : { ...task, priority: name };
}
