import type { IDataObject, INodeProperties } from 'n8n-workflow';

/**
 * Task delivery policy shared by Enqueue Task and Schedule Task: priority, retry policy and
 * attempt timeout, as options of an "Options" collection, and how they become the engine's fields.
 * Left empty, each falls back to the queue's setting and then to the priority class.
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
