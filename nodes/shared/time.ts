import type { INodePropertyOptions } from 'n8n-workflow';

/** Units offered next to a duration value (see `durationSeconds`). */
export const durationUnitOptions: INodePropertyOptions[] = [
	{ name: 'Seconds', value: 'seconds' },
	{ name: 'Minutes', value: 'minutes' },
	{ name: 'Hours', value: 'hours' },
	{ name: 'Days', value: 'days' },
];

const SECONDS_PER_UNIT: Record<string, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86400 };

/** `value` `unit`s in seconds, or `undefined` for a negative, non-finite value or unknown unit. */
export function durationSeconds(value: unknown, unit: string): number | undefined {
	const amount = Number(value);
	const factor = SECONDS_PER_UNIT[unit];
	if (factor === undefined || !Number.isFinite(amount) || amount < 0) return undefined;
	return amount * factor;
}

const HAS_OFFSET = /(?:Z|[+-]\d{2}:?\d{2})$/i;
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/;

/**
 * A date-time parameter as an ISO 8601 UTC instant, which the engine requires. n8n's date picker
 * gives a wall-clock time without offset: that is read in `timeZone` (the workflow's), as the
 * user sees it. Values with an offset, `Date`s and Luxon `DateTime`s (from expressions such as
 * `{{ $now.plus(1, 'hour') }}`) are exact already. Returns `undefined` when it is not a date.
 */
export function toUtcIso(value: unknown, timeZone: string): string | undefined {
	if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
	const luxonLike = value as { toMillis?: () => number } | null;
	if (typeof luxonLike?.toMillis === 'function') return isoOf(luxonLike.toMillis());
	if (typeof value !== 'string') return undefined;
	const text = value.trim();
	if (HAS_OFFSET.test(text)) return isoOf(Date.parse(text));
	const match = LOCAL_DATE_TIME.exec(text);
	if (match === null) return undefined;
	const [, year, month, day, hour = '0', minute = '0', second = '0', millis = '0'] = match;
	const wallClockAsUtc = Date.UTC(
		Number(year),
		Number(month) - 1,
		Number(day),
		Number(hour),
		Number(minute),
		Number(second),
		Number(millis.padEnd(3, '0')),
	);
	return isoOf(zonedWallClockToUtc(wallClockAsUtc, timeZone));
}

function isoOf(milliseconds: number): string | undefined {
	return Number.isFinite(milliseconds) ? new Date(milliseconds).toISOString() : undefined;
}

/** The zone's offset from UTC (ms) at an instant, from the runtime's time zone database. */
function offsetAt(instant: number, timeZone: string): number {
	const parts = new Intl.DateTimeFormat('en-US', {
		timeZone,
		hourCycle: 'h23',
		year: 'numeric',
		month: '2-digit',
		day: '2-digit',
		hour: '2-digit',
		minute: '2-digit',
		second: '2-digit',
	}).formatToParts(new Date(instant));
	const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
	const zoned = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
	return zoned - (instant - (((instant % 1000) + 1000) % 1000));
}

// Two passes, because the offset at the guessed instant can differ from the one at the answer
// near a DST change; a wall-clock time inside a spring-forward gap lands after the gap.
function zonedWallClockToUtc(wallClockAsUtc: number, timeZone: string): number {
	const first = wallClockAsUtc - offsetAt(wallClockAsUtc, timeZone);
	const second = wallClockAsUtc - offsetAt(first, timeZone);
	return second;
}

/** True when the runtime knows this IANA time zone. */
export function isKnownTimeZone(timeZone: string): boolean {
	try {
		new Intl.DateTimeFormat('en-US', { timeZone });
		return true;
	} catch {
		return false;
	}
}

/**
 * An instant as ISO 8601 with the offset the zone has at that instant, e.g.
 * `2030-03-31T03:00:00+02:00` for `2030-03-31T01:00:00Z` in Europe/Berlin: the wall-clock time a
 * user expects, still one exact instant. `undefined` when it is not a date.
 */
export function toZonedIso(instant: string | Date, timeZone: string): string | undefined {
	const at = instant instanceof Date ? instant.getTime() : Date.parse(instant);
	if (!Number.isFinite(at)) return undefined;
	const offset = offsetAt(at, timeZone);
	const wallClock = new Date(at + offset).toISOString().replace(/Z$/, '').replace(/\.000$/, '');
	const minutes = Math.round(Math.abs(offset) / 60_000);
	const sign = offset < 0 ? '-' : '+';
	return `${wallClock}${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** An instant as people read it in a zone, e.g. "Sun, 31 Mar 2030, 03:00" (seconds only when asked). */
export function readableInstant(instant: string | Date, timeZone: string, withSeconds = false): string {
	return new Intl.DateTimeFormat('en-GB', {
		timeZone,
		weekday: 'short',
		day: 'numeric',
		month: 'short',
		year: 'numeric',
		hour: '2-digit',
		minute: '2-digit',
		...(withSeconds ? { second: '2-digit' } : {}),
		hourCycle: 'h23',
	}).format(new Date(instant));
}
