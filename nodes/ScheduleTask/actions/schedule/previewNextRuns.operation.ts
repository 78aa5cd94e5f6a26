import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { pathSegment } from '../../../shared/parameters';
import { toUtcIso, toZonedIso } from '../../../shared/time';
import { engineRequest } from '../../../shared/transport';
import { shownFromVersion1_1, shownInVersion1 } from '../../../shared/versions';
import { nextRunsHint } from './nextRuns';
import { scheduleIdParameter, scheduleLocator } from './scheduleLocator';
import { triggerRuleProperties, triggerRuleWhen, type ScheduleWhen } from './triggerRule';

/**
 * Version 1 previews a saved schedule. From 1.1 the default is the rule typed here, before anything
 * is saved (`POST /v1/schedules/preview`, computed by the code that fires saved schedules); a saved
 * schedule stays one choice away.
 */
const ruleShown = { ...shownFromVersion1_1, previewOf: ['rule'] };

const properties: INodeProperties[] = [
	{
		displayName: 'Preview',
		name: 'previewOf',
		type: 'options',
		options: [
			{ name: 'Rule Below', value: 'rule', description: 'When a schedule with this rule would run; nothing is saved' },
			{ name: 'Saved Schedule', value: 'savedSchedule', description: 'When a schedule of the engine runs next' },
		],
		default: 'rule',
		displayOptions: { show: shownFromVersion1_1 },
	},
	{ ...scheduleLocator, displayOptions: { show: shownInVersion1 } },
	{ ...scheduleLocator, displayOptions: { show: { ...shownFromVersion1_1, previewOf: ['savedSchedule'] } } },
	...updateDisplayOptions({ show: ruleShown }, triggerRuleProperties),
	{
		displayName: 'Count',
		name: 'count',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100 },
		default: 10,
		description: 'How many upcoming fire times to show',
		displayOptions: { show: shownInVersion1 },
	},
	{
		displayName: 'Count',
		name: 'count',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100 },
		default: 5,
		description: 'How many upcoming runs to show',
		displayOptions: { show: shownFromVersion1_1 },
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		displayOptions: { show: ruleShown },
		options: [
			{
				displayName: 'End At',
				name: 'endAt',
				type: 'dateTime',
				default: '',
				description: 'No runs after this moment',
			},
			{
				displayName: 'Start At',
				name: 'startAt',
				type: 'dateTime',
				default: '',
				description: 'No runs before this moment; an interval counts from it (else from now)',
			},
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['schedule'], operation: ['previewNextRuns'] } },
	properties,
);

/** The next fire times (UTC, ISO 8601), as the engine computes them in the schedule's time zone. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	const version1 = this.getNode().typeVersion < 1.1;
	const output = await runPerItem.call(this, items, async (itemIndex) => {
		if (version1) {
			const scheduleId = await scheduleIdParameter.call(this, itemIndex);
			return { scheduleId, fireTimes: await savedFireTimes.call(this, scheduleId, itemIndex) };
		}
		return this.getNodeParameter('previewOf', itemIndex) === 'savedSchedule'
			? await previewSaved.call(this, itemIndex)
			: await previewRule.call(this, itemIndex);
	});
	const first = output.find((item) => Array.isArray(item.json.fireTimes))?.json;
	if (!version1 && first !== undefined) {
		const lead = output.length > 1 ? 'Next runs of the first item' : 'Next runs';
		this.addExecutionHints(nextRunsHint(first.fireTimes as string[], String(first.timezone), lead));
	}
	return output;
}

function countParameter(this: IExecuteFunctions, itemIndex: number): number {
	return this.getNodeParameter('count', itemIndex, 5) as number;
}

async function savedFireTimes(this: IExecuteFunctions, scheduleId: string, itemIndex: number): Promise<string[]> {
	const { fireTimes } = await engineRequest<{ fireTimes: string[] }>(this, {
		method: 'GET',
		path: `/v1/schedules/${pathSegment(scheduleId)}/next`,
		qs: { count: countParameter.call(this, itemIndex) },
		itemIndex,
	});
	return fireTimes;
}

/** What both 1.1 previews output: when, and the runs in UTC and in the schedule's time zone. */
function previewItem(when: ScheduleWhen, fireTimes: string[], extra: IDataObject = {}): IDataObject {
	return {
		...extra,
		cron: when.cron,
		everySeconds: when.everySeconds,
		timezone: when.timezone,
		fireTimes,
		localFireTimes: fireTimes.map((at) => toZonedIso(at, when.timezone) ?? at),
	};
}

/** The rule typed in the node, previewed by the engine before it is saved. */
async function previewRule(this: IExecuteFunctions, itemIndex: number): Promise<IDataObject> {
	const when = triggerRuleWhen.call(this, itemIndex);
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const bounds: IDataObject = {};
	for (const [field, label] of [
		['startAt', 'Start At'],
		['endAt', 'End At'],
	] as const) {
		if (options[field] === undefined || options[field] === '') continue;
		const instant = toUtcIso(options[field], this.getTimezone());
		if (instant === undefined) throw new NodeOperationError(this.getNode(), `${label} must be a date and time`, { itemIndex });
		bounds[field] = instant;
	}
	const { fireTimes } = await engineRequest<{ fireTimes: string[] }>(this, {
		method: 'POST',
		path: '/v1/schedules/preview',
		body: { ...(when.cron === null ? { everySeconds: when.everySeconds } : { cron: when.cron }), timezone: when.timezone, ...bounds, count: countParameter.call(this, itemIndex) },
		itemIndex,
	});
	return previewItem(when, fireTimes);
}

/** A schedule saved in the engine: its definition, then its next fire times. */
async function previewSaved(this: IExecuteFunctions, itemIndex: number): Promise<IDataObject> {
	const scheduleId = await scheduleIdParameter.call(this, itemIndex);
	const schedule = await engineRequest<ScheduleWhen & { name: string }>(this, {
		method: 'GET',
		path: `/v1/schedules/${pathSegment(scheduleId)}`,
		itemIndex,
	});
	const fireTimes = await savedFireTimes.call(this, scheduleId, itemIndex);
	return previewItem(schedule, fireTimes, { scheduleId, name: schedule.name });
}
