import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { jsonParameter, pathSegment, requiredString } from '../../../shared/parameters';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';
import {
	groupedTaskPolicyFields,
	priorityOption,
	retrySection,
	taskPolicyFields,
	taskPolicyOptions,
	timeoutOptions,
} from '../../../shared/taskPolicy';
import { durationSeconds, durationUnitOptions, isKnownTimeZone, toUtcIso } from '../../../shared/time';
import { engineRequest, engineRequestWithStatus } from '../../../shared/transport';
import { shownFromVersion1_1, shownInVersion1 } from '../../../shared/versions';
import { nextRunsHint } from './nextRuns';
import { triggerRuleProperties, triggerRuleWhen, type ScheduleWhen } from './triggerRule';

/** When a schedule fires, as version 1 asks it: cron (the default) or a fixed interval. */
const version1When: INodeProperties[] = [
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
];

/** The schedule's own options, in both versions' Options collections. */
const endAtOption: INodeProperties = {
	displayName: 'End At',
	name: 'endAt',
	type: 'dateTime',
	default: '',
	description: 'No occurrences after this moment',
};

const misfireOption: INodeProperties = {
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
};

const overlapOption: INodeProperties = {
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
};

const startAtOption: INodeProperties = {
	displayName: 'Start At',
	name: 'startAt',
	type: 'dateTime',
	default: '',
	description: 'No occurrences before this moment',
};

const targetUrlOption: INodeProperties = {
	displayName: 'Target URL',
	name: 'targetUrl',
	type: 'string',
	default: '',
	placeholder: 'e.g. https://example.com/hooks/report',
	description: "Deliver to this URL instead of the queue's Task Triggers",
};

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
	...updateDisplayOptions({ show: shownInVersion1 }, version1When),
	...updateDisplayOptions({ show: shownFromVersion1_1 }, triggerRuleProperties),
	{
		displayName: 'Payload JSON',
		name: 'payload',
		type: 'json',
		default: '{}',
		description: 'The payload of every task the schedule creates',
	},
	// Version 1: every policy field a loose option, filled in with Normal's values once added.
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: { show: shownInVersion1 },
		options: [endAtOption, misfireOption, overlapOption, ...taskPolicyOptions, startAtOption, targetUrlOption],
	},
	// From 1.1, as in Enqueue Task: the retry fields in their own section, each inherited until added,
	// and Max Retries and Timeout starting at the chosen priority class's defaults.
	{ ...retrySection('/options.priority'), displayOptions: { show: shownFromVersion1_1 } },
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: { show: shownFromVersion1_1 },
		options: [endAtOption, misfireOption, overlapOption, priorityOption, startAtOption, targetUrlOption, ...timeoutOptions],
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
		...(this.getNode().typeVersion < 1.1 ? whenOfVersion1.call(this, itemIndex) : triggerRuleWhen.call(this, itemIndex)),
	};

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
	const policy =
		this.getNode().typeVersion < 1.1
			? taskPolicyFields(options)
			: groupedTaskPolicyFields(options, this.getNodeParameter('retry', itemIndex, {}) as IDataObject);
	return { ...body, priority: null, retry: null, timeoutSeconds: null, ...policy };
}

/**
 * Version 1's "when": a cron expression in a time zone (free text, empty for the workflow's), or a
 * fixed interval, which sends no time zone.
 */
function whenOfVersion1(this: IExecuteFunctions, itemIndex: number): Partial<ScheduleWhen> {
	if (this.getNodeParameter('scheduleType', itemIndex) === 'cron') {
		const cron = requiredString.call(this, 'cron', 'Cron Expression', itemIndex);
		const timezone = String(this.getNodeParameter('timezone', itemIndex, '')).trim() || this.getTimezone();
		if (!isKnownTimeZone(timezone)) {
			throw new NodeOperationError(this.getNode(), `Time Zone "${timezone}" is not a known IANA time zone`, {
				itemIndex,
			});
		}
		return { cron, everySeconds: null, timezone };
	}
	const seconds = durationSeconds(
		this.getNodeParameter('every', itemIndex),
		this.getNodeParameter('everyUnit', itemIndex) as string,
	);
	if (seconds === undefined || seconds < 1 || !Number.isInteger(seconds)) {
		throw new NodeOperationError(this.getNode(), 'Every must make a whole number of seconds, at least 1', {
			itemIndex,
		});
	}
	return { cron: null, everySeconds: seconds };
}

/** How many next runs the hint of version 1.1 shows. */
const HINT_RUNS = 3;

/**
 * Creates the schedule or replaces the one with the same name (the engine's upsert by name). From
 * version 1.1 the output pane also shows when the (first) schedule runs next.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	const output = await runPerItem.call(this, items, async (itemIndex) => {
		const name = requiredString.call(this, 'scheduleName', 'Schedule Name', itemIndex);
		const { statusCode, body } = await engineRequestWithStatus(this, {
			method: 'PUT',
			path: `/v1/schedules/by-name/${pathSegment(name)}`,
			body: scheduleBody.call(this, itemIndex),
			itemIndex,
		});
		return { ...body, created: statusCode === 201 };
	});
	const first = output.find((item) => typeof item.json.id === 'string')?.json;
	if (this.getNode().typeVersion >= 1.1 && first !== undefined) await hintNextRuns.call(this, first, output.length);
	return output;
}

/** The hint over the output: the saved schedule's next runs, read back from the engine. */
async function hintNextRuns(this: IExecuteFunctions, schedule: IDataObject, outputCount: number): Promise<void> {
	const about = outputCount > 1 ? `"${String(schedule.name)}" (the first schedule)` : `"${String(schedule.name)}"`;
	if (schedule.paused === true) {
		this.addExecutionHints({ message: `${about} is paused: it does not run until it is resumed`, location: 'outputPane' });
		return;
	}
	try {
		const { fireTimes } = await engineRequest<{ fireTimes: string[] }>(this, {
			method: 'GET',
			path: `/v1/schedules/${pathSegment(String(schedule.id))}/next`,
			qs: { count: HINT_RUNS },
		});
		this.addExecutionHints(nextRunsHint(fireTimes, String(schedule.timezone), `${about} runs next`));
	} catch {
		// The schedule is saved and the output says so; without its next runs there is only no hint.
	}
}
