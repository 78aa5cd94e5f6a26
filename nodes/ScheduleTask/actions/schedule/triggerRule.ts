import type { IDataObject, IExecuteFunctions, INodeProperties, INodePropertyOptions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { requiredString } from '../../../shared/parameters';
import { timeZoneParameter, timeZoneProperty } from './timeZones';

/**
 * When a schedule fires, from version 1.1: n8n's Schedule Trigger rule — every so many seconds,
 * minutes, hours, days or months, or weekly on weekdays, at an hour and minute — with "Custom
 * (Cron)" for anything else. The rule becomes the engine's `everySeconds` (seconds and minutes:
 * elapsed time, as n8n's own) or a cron expression in the chosen time zone (the rest, so that
 * "daily at 09:00" stays at 09:00 across daylight-saving changes).
 */

/** In the order of n8n's Schedule Trigger (a named list keeps it: n8n's lint sorts inline options). */
const intervalOptions: INodePropertyOptions[] = [
	{ name: 'Seconds', value: 'seconds' },
	{ name: 'Minutes', value: 'minutes' },
	{ name: 'Hours', value: 'hours' },
	{ name: 'Days', value: 'days' },
	{ name: 'Weeks', value: 'weeks' },
	{ name: 'Months', value: 'months' },
	{ name: 'Custom (Cron)', value: 'cronExpression' },
];

/** Cron's day-of-week numbers (0 is Sunday), listed from Monday. */
const weekdayOptions: INodePropertyOptions[] = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'].map(
	(name, index) => ({ name, value: (index + 1) % 7 }),
);

/** "Midnight", "1am" … "Noon", "1pm" … "11pm", as n8n's Schedule Trigger names them. */
const hourOptions: INodePropertyOptions[] = Array.from({ length: 24 }, (_, hour) => {
	const name = hour === 0 ? 'Midnight' : hour === 12 ? 'Noon' : hour < 12 ? `${hour}am` : `${hour - 12}pm`;
	return { name, value: hour };
});

const CALENDAR_INTERVALS = ['hours', 'days', 'weeks', 'months', 'cronExpression'];
/** The engine's longest interval: 366 days. */
const MAX_INTERVAL_SECONDS = 366 * 86400;

const shownFor = (...intervals: string[]) => ({ show: { triggerInterval: intervals } });

/** The rule's parameters; each operation adds its own `displayOptions` (operation, version). */
export const triggerRuleProperties: INodeProperties[] = [
	{
		displayName: 'Trigger Interval',
		name: 'triggerInterval',
		type: 'options',
		options: intervalOptions,
		default: 'days',
		description: 'How often the schedule runs; Custom (Cron) for anything else',
	},
	{
		displayName: 'Seconds Between Runs',
		name: 'secondsInterval',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 30,
		displayOptions: shownFor('seconds'),
	},
	{
		displayName: 'Minutes Between Runs',
		name: 'minutesInterval',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 5,
		displayOptions: shownFor('minutes'),
	},
	{
		displayName: 'Hours Between Runs',
		name: 'hoursInterval',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 23 },
		default: 1,
		hint: 'Counted from midnight each day',
		displayOptions: shownFor('hours'),
	},
	{
		displayName: 'Days Between Runs',
		name: 'daysInterval',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 31 },
		default: 1,
		hint: 'Counted from the 1st of each month',
		displayOptions: shownFor('days'),
	},
	{
		displayName: 'Run on Weekdays',
		name: 'triggerAtDay',
		type: 'multiOptions',
		options: weekdayOptions,
		default: [1],
		description: 'Days of the week the schedule runs on; none means every day',
		displayOptions: shownFor('weeks'),
	},
	{
		displayName: 'Months Between Runs',
		name: 'monthsInterval',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 12 },
		default: 1,
		displayOptions: shownFor('months'),
	},
	{
		displayName: 'Run at Day of Month',
		name: 'triggerAtDayOfMonth',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 31 },
		default: 1,
		hint: 'A month without this day is skipped',
		displayOptions: shownFor('months'),
	},
	{
		displayName: 'Run at Hour',
		name: 'triggerAtHour',
		type: 'options',
		options: hourOptions,
		default: 0,
		displayOptions: shownFor('days', 'weeks', 'months'),
	},
	{
		displayName: 'Run at Minute',
		name: 'triggerAtMinute',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 59 },
		default: 0,
		displayOptions: shownFor('hours', 'days', 'weeks', 'months'),
	},
	{
		displayName: 'Cron Expression',
		name: 'cron',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. 0 9 * * 1-5',
		hint: 'Format: [Minute] [Hour] [Day of Month] [Month] [Day of Week], or [Second] first for six fields',
		displayOptions: shownFor('cronExpression'),
	},
	{ ...timeZoneProperty, displayOptions: shownFor(...CALENDAR_INTERVALS) },
];

/** When a schedule fires, as the engine's fields. */
export interface ScheduleWhen extends IDataObject {
	cron: string | null;
	everySeconds: number | null;
	timezone: string;
}

/** The rule of item `itemIndex` as the engine's `cron` or `everySeconds` and `timezone`. */
export function triggerRuleWhen(this: IExecuteFunctions, itemIndex: number): ScheduleWhen {
	const interval = this.getNodeParameter('triggerInterval', itemIndex) as string;
	const wholeNumber = (name: string, label: string, min: number, max: number): number => {
		const value = Number(this.getNodeParameter(name, itemIndex));
		if (!Number.isInteger(value) || value < min || value > max) {
			throw new NodeOperationError(this.getNode(), `${label} must be a whole number from ${min} to ${max}`, { itemIndex });
		}
		return value;
	};
	// Calendar rules are read in the time zone; intervals are elapsed time, which the zone only labels.
	const when = (cron: string | null, everySeconds: number | null = null): ScheduleWhen => ({
		cron,
		everySeconds,
		timezone: timeZoneParameter.call(this, itemIndex),
	});
	const step = (every: number) => (every === 1 ? '*' : `*/${every}`);
	const minute = () => wholeNumber('triggerAtMinute', 'Run at Minute', 0, 59);
	const hour = () => wholeNumber('triggerAtHour', 'Run at Hour', 0, 23);

	switch (interval) {
		case 'seconds':
			return when(null, wholeNumber('secondsInterval', 'Seconds Between Runs', 1, MAX_INTERVAL_SECONDS));
		case 'minutes':
			return when(null, 60 * wholeNumber('minutesInterval', 'Minutes Between Runs', 1, MAX_INTERVAL_SECONDS / 60));
		case 'hours':
			return when(`${minute()} ${step(wholeNumber('hoursInterval', 'Hours Between Runs', 1, 23))} * * *`);
		case 'days':
			return when(`${minute()} ${hour()} ${step(wholeNumber('daysInterval', 'Days Between Runs', 1, 31))} * *`);
		case 'weeks':
			return when(`${minute()} ${hour()} * * ${weekdays.call(this, itemIndex)}`);
		case 'months': {
			const day = wholeNumber('triggerAtDayOfMonth', 'Run at Day of Month', 1, 31);
			return when(`${minute()} ${hour()} ${day} ${step(wholeNumber('monthsInterval', 'Months Between Runs', 1, 12))} *`);
		}
		case 'cronExpression':
			return when(requiredString.call(this, 'cron', 'Cron Expression', itemIndex));
		default:
			throw new NodeOperationError(this.getNode(), `Trigger Interval "${interval}" is not one of the offered intervals`, { itemIndex });
	}
}

/** The chosen weekdays as cron's day-of-week field (`*` for none: every day). */
function weekdays(this: IExecuteFunctions, itemIndex: number): string {
	const chosen = this.getNodeParameter('triggerAtDay', itemIndex, []) as unknown;
	const days = (Array.isArray(chosen) ? chosen : [chosen]).map(Number);
	if (days.some((day) => !Number.isInteger(day) || day < 0 || day > 6)) {
		throw new NodeOperationError(this.getNode(), 'Run on Weekdays must hold days of the week (0 is Sunday, 6 Saturday)', { itemIndex });
	}
	return days.length === 0 ? '*' : [...new Set(days)].sort((a, b) => a - b).join(',');
}
