import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { jsonParameter, pathSegment, requiredString } from '../../../shared/parameters';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';
import { taskPolicyFields, taskPolicyOptions } from '../../../shared/taskPolicy';
import { durationSeconds, durationUnitOptions, isKnownTimeZone, toUtcIso } from '../../../shared/time';
import { engineRequestWithStatus } from '../../../shared/transport';

const properties: INodeProperties[] = [
	{
		displayName: 'Schedule Name',
		name: 'scheduleName',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. nightly-report',
		description: 'Unique name: a schedule with this name is updated, otherwise one is created',
	},
	queueLocator({ description: 'Queue each occurrence\'s task goes to' }),
	{
		displayName: 'Task Name',
		name: 'taskName',
		type: 'string',
		default: '',
		placeholder: 'e.g. build-report',
		description: 'Type of the tasks; the handler receives it as <code>name</code>. Empty means the schedule name.',
	},
	{
		displayName: 'Trigger Interval',
		name: 'scheduleType',
		type: 'options',
		options: [
			{ name: 'Cron Expression', value: 'cron', description: 'Calendar times, in a time zone' },
			{ name: 'Fixed Interval', value: 'interval', description: 'Every so many seconds, minutes, hours or days' },
		],
		default: 'cron',
	},
	{
		displayName: 'Cron Expression',
		name: 'cron',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. 0 9 * * 1-5',
		description: 'Five fields (minute hour day month weekday), or six with seconds first',
		displayOptions: { show: { scheduleType: ['cron'] } },
	},
	{
		displayName: 'Time Zone',
		name: 'timezone',
		type: 'string',
		default: '',
		placeholder: 'e.g. Europe/Berlin',
		description: "IANA time zone the cron expression is read in. Empty means the workflow's time zone.",
		displayOptions: { show: { scheduleType: ['cron'] } },
	},
	{
		displayName: 'Every',
		name: 'every',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 1,
		displayOptions: { show: { scheduleType: ['interval'] } },
	},
	{
		displayName: 'Unit',
		name: 'everyUnit',
		type: 'options',
		options: durationUnitOptions,
		default: 'hours',
		displayOptions: { show: { scheduleType: ['interval'] } },
	},
	{
		displayName: 'Payload JSON',
		name: 'payload',
		type: 'json',
		default: '{}',
		description: 'The payload of every task the schedule creates',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'End At',
				name: 'endAt',
				type: 'dateTime',
				default: '',
				description: 'No occurrences after this moment',
			},
			{
				displayName: 'Missed Occurrences',
				name: 'misfire',
				type: 'options',
				options: [
					{ name: 'Skip', value: 'skip', description: 'Occurrences missed while no engine ran are dropped' },
					{
						name: 'Run Once',
						value: 'runOnce',
						description: 'One task makes up for all occurrences missed while no engine ran',
					},
				],
				default: 'skip',
			},
			{
				displayName: 'Overlap',
				name: 'overlap',
				type: 'options',
				options: [
					{ name: 'Allow', value: 'allow', description: 'Fire even while the previous task is unfinished' },
					{
						name: 'Skip',
						value: 'skip',
						description: 'Do not fire while the previous task is still queued, active or retrying',
					},
				],
				default: 'allow',
			},
			...taskPolicyOptions,
			{
				displayName: 'Start At',
				name: 'startAt',
				type: 'dateTime',
				default: '',
				description: 'No occurrences before this moment',
			},
			{
				displayName: 'Target URL',
				name: 'targetUrl',
				type: 'string',
				default: '',
				placeholder: 'e.g. https://example.com/hooks/report',
				description: "Deliver to this URL instead of the queue's Task Triggers",
			},
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['schedule'], operation: ['upsert'] } },
	properties,
);

/** Option values are camelCase here, snake_case in the engine. */
const MISFIRE_WIRE_VALUES: Record<string, string> = { skip: 'skip', runOnce: 'run_once' };

/**
 * The whole definition of the schedule, so that running the node again makes the engine's schedule
 * match it: every optional field the user left empty is sent as `null`, which clears an earlier
 * value on update. `paused` is left out, so updating does not resume a paused schedule.
 */
function scheduleBody(this: IExecuteFunctions, itemIndex: number): IDataObject {
	const queue = queueNameParameter.call(this, 'queue', itemIndex);
	if (queue === '') throw new NodeOperationError(this.getNode(), 'Queue is required', { itemIndex });
	const taskName = String(this.getNodeParameter('taskName', itemIndex, '')).trim();
	const body: IDataObject = {
		queue,
		taskName: taskName === '' ? null : taskName,
		payload: jsonParameter.call(this, 'payload', 'Payload JSON', itemIndex) as IDataObject,
		cron: null,
		everySeconds: null,
	};

	if (this.getNodeParameter('scheduleType', itemIndex) === 'cron') {
		body.cron = requiredString.call(this, 'cron', 'Cron Expression', itemIndex);
		const timezone = String(this.getNodeParameter('timezone', itemIndex, '')).trim() || this.getTimezone();
		if (!isKnownTimeZone(timezone)) {
			throw new NodeOperationError(this.getNode(), `Time Zone "${timezone}" is not a known IANA time zone`, {
				itemIndex,
			});
		}
		body.timezone = timezone;
	} else {
		const seconds = durationSeconds(
			this.getNodeParameter('every', itemIndex),
			this.getNodeParameter('everyUnit', itemIndex) as string,
		);
		if (seconds === undefined || seconds < 1 || !Number.isInteger(seconds)) {
			throw new NodeOperationError(this.getNode(), 'Every must make a whole number of seconds, at least 1', {
				itemIndex,
			});
		}
		body.everySeconds = seconds;
	}

	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	for (const [field, label] of [
		['startAt', 'Start At'],
		['endAt', 'End At'],
	] as const) {
		body[field] = null;
		if (options[field] === undefined || options[field] === '') continue;
		const instant = toUtcIso(options[field], this.getTimezone());
		if (instant === undefined) {
			throw new NodeOperationError(this.getNode(), `${label} must be a date and time`, { itemIndex });
		}
		body[field] = instant;
	}
	body.misfire = MISFIRE_WIRE_VALUES[String(options.misfire ?? 'skip')];
	body.overlap = options.overlap ?? 'allow';
	const targetUrl = String(options.targetUrl ?? '').trim();
	body.url = targetUrl === '' ? null : targetUrl;
	return { ...body, priority: null, retry: null, timeoutSeconds: null, ...taskPolicyFields(options) };
}

/** Creates the schedule or replaces the one with the same name (the engine's upsert by name). */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const name = requiredString.call(this, 'scheduleName', 'Schedule Name', itemIndex);
		const { statusCode, body } = await engineRequestWithStatus(this, {
			method: 'PUT',
			path: `/v1/schedules/by-name/${pathSegment(name)}`,
			body: scheduleBody.call(this, itemIndex),
			itemIndex,
		});
		return { ...body, created: statusCode === 201 };
	});
}
