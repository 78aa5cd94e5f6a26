import { CronExpressionParser } from 'cron-parser';
import { invalidField } from '../errors.js';

/**
 * When a schedule fires: pure functions over a cron expression (5 fields, or 6 with seconds first,
 * evaluated in an IANA time zone by cron-parser) or a fixed interval, bounded by startAt/endAt.
 *
 * Daylight-saving time is cron-parser's (5.x) behaviour, unchanged:
 * - spring-forward gap: a wall time that does not exist that day fires once, shifted forward by the
 *   gap (02:00 and 02:30 in Europe/Berlin on the last Sunday of March fire at 03:00 and 03:30 CEST);
 *   when the shifted time is itself scheduled (hours 2 and 3 at minute 0) there is one task;
 * - fall-back repeat: an expression with specific hours fires once in the repeated hour, in its first
 *   (summer-time) pass; one whose hour field is unrestricted (`*`, `* /1`, `0-23`) fires in both
 *   passes, which are two different real hours.
 * Intervals (`everySeconds`) are plain elapsed time and know no time zone.
 */

/** What decides the fire times of a schedule. */
export interface Recurrence {
	cron: string | null;
	everySeconds: number | null;
	timezone: string;
	startAt: Date | null;
	endAt: Date | null;
	/** Where an interval counts from: `startAt`, else the schedule's creation (whole second). */
	anchor: Date;
}

const FIELD_NAMES_6 = ['second', 'minute', 'hour', 'day of month', 'month', 'day of week'] as const;
const PREDEFINED = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly', '@minutely', '@secondly', '@weekdays', '@weekends']);

/**
 * Rejects what cron-parser would reject, naming the culprit field ("cron field 2 (hour) …"), and
 * what it would accept but we must not: other field counts, and `H` (a random value per parse would
 * give each engine different fire times).
 */
export function checkCron(expression: string, field = 'cron'): void {
	const text = expression.trim();
	if (PREDEFINED.has(text.toLowerCase())) return;
	const fields = text.split(/\s+/).filter(Boolean);
	if (fields.length !== 5 && fields.length !== 6) {
		throw invalidField(field, `must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; got ${fields.length}`);
	}
	const offset = fields.length === 5 ? 1 : 0;
	fields.forEach((value, i) => {
		const name = FIELD_NAMES_6[i + offset];
		const label = `field ${i + 1} (${name}) "${value}"`;
		if (/h/i.test(value.replace(/(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)/gi, ''))) {
			throw invalidField(field, `${label} uses H (hashed values), which is not supported`);
		}
		const alone = FIELD_NAMES_6.map((_, j) => (j === i + offset ? value : j === 0 ? '0' : '*')).join(' ');
		try {
			CronExpressionParser.parse(alone, { tz: 'UTC', currentDate: new Date(0) });
		} catch (error) {
			throw invalidField(field, `${label} is invalid: ${messageOf(error)}`);
		}
	});
	try {
		CronExpressionParser.parse(text, { tz: 'UTC', currentDate: new Date(0) }).next();
	} catch (error) {
		throw invalidField(field, `is invalid: ${messageOf(error)}`);
	}
}

/**
 * IANA zone names only (offsets such as `+02:00` are not zones), checked against the runtime's ICU
 * data. For cron, zones whose daylight-saving shift is not whole hours (Australia/Lord_Howe's 30
 * minutes) are refused: cron-parser cannot step through that shift (it spins for seconds and gives up).
 */
export function checkTimezone(timezone: string, forCron = false, field = 'timezone'): void {
	let valid = /^[A-Za-z]/.test(timezone);
	if (valid) {
		try {
			new Intl.DateTimeFormat('en-US', { timeZone: timezone });
		} catch {
			valid = false;
		}
	}
	if (!valid) throw invalidField(field, `"${timezone}" is not a known IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)`);
	if (forCron) {
		const year = new Date().getUTCFullYear();
		const shift = Math.abs(offsetMinutes(timezone, new Date(Date.UTC(year, 0, 1))) - offsetMinutes(timezone, new Date(Date.UTC(year, 6, 1))));
		if (shift % 60 !== 0) {
			throw invalidField(field, `"${timezone}" shifts by ${shift} minutes for daylight saving, which cron schedules do not support; use everySeconds or a zone with whole-hour shifts`);
		}
	}
}

/** The zone's UTC offset at `at`, in minutes. */
function offsetMinutes(timezone: string, at: Date): number {
	const name = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' }).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
	const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
	return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** The first fire time strictly after `after` (never before startAt, never after endAt); null when none is left. */
export function nextOccurrence(r: Recurrence, after: Date): Date | null {
	return occurrencesAfter(r, after, 1)[0] ?? null;
}

/** Up to `count` fire times strictly after `after`, in order. */
export function occurrencesAfter(r: Recurrence, after: Date, count: number): Date[] {
	const from = r.startAt && r.startAt.getTime() - 1 > after.getTime() ? new Date(r.startAt.getTime() - 1) : after;
	const out: Date[] = [];
	if (r.everySeconds !== null) {
		const period = r.everySeconds * 1000;
		const anchor = r.anchor.getTime();
		const k = from.getTime() < anchor ? 0 : Math.floor((from.getTime() - anchor) / period) + 1;
		for (let i = 0; i < count; i++) out.push(new Date(anchor + (k + i) * period));
	} else {
		let cursor = from;
		while (out.length < count) {
			const next = cronNext(r, cursor);
			if (r.endAt && next.getTime() > r.endAt.getTime()) break;
			out.push(next);
			cursor = next;
		}
	}
	return r.endAt ? out.filter((d) => d.getTime() <= (r.endAt as Date).getTime()) : out;
}

/** The latest fire time at or before `at` (and not before startAt, nor after endAt); null when there is none. */
export function latestOccurrenceAtOrBefore(r: Recurrence, at: Date): Date | null {
	const limit = r.endAt && r.endAt.getTime() < at.getTime() ? r.endAt : at;
	let latest: Date | null;
	if (r.everySeconds !== null) {
		const period = r.everySeconds * 1000;
		const anchor = r.anchor.getTime();
		latest = limit.getTime() < anchor ? null : new Date(anchor + Math.floor((limit.getTime() - anchor) / period) * period);
	} else {
		try {
			latest = CronExpressionParser.parse(r.cron as string, { tz: r.timezone, currentDate: new Date(limit.getTime() + 1) })
				.prev()
				.toDate();
		} catch {
			latest = null;
		}
	}
	if (latest && r.startAt && latest.getTime() < r.startAt.getTime()) return null;
	return latest;
}

/**
 * cron-parser's next occurrence after `after`. Should it still fail to find one (it gives up with
 * "loop limit exceeded" on DST shifts it cannot handle), the search resumes a day later, so at most
 * that day's occurrences are lost instead of the whole schedule.
 */
function cronNext(r: Recurrence, after: Date): Date {
	let from = after;
	let lastError: unknown = null;
	for (let tries = 0; tries < 3; tries++) {
		try {
			const next = CronExpressionParser.parse(r.cron as string, { tz: r.timezone, currentDate: from }).next().toDate();
			if (next.getTime() > after.getTime()) return next;
		} catch (error) {
			lastError = error;
		}
		from = new Date(from.getTime() + 86400_000);
	}
	throw lastError ?? new Error(`no occurrence of "${r.cron}" after ${after.toISOString()}`);
}

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
