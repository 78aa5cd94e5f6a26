import { describe, expect, it } from 'vitest';
import { DomainError } from '../../engine/src/errors.js';
import { planFires, type PlanInput } from '../../engine/src/schedules/firePlan.js';
import { checkCron, checkTimezone, latestOccurrenceAtOrBefore, nextOccurrence, occurrencesAfter, type Recurrence } from '../../engine/src/schedules/occurrences.js';

const cron = (expression: string, timezone = 'UTC', extra: Partial<Recurrence> = {}): Recurrence => ({
	cron: expression,
	everySeconds: null,
	timezone,
	startAt: null,
	endAt: null,
	anchor: new Date(0),
	...extra,
});
const every = (seconds: number, anchor: string, extra: Partial<Recurrence> = {}): Recurrence => ({
	cron: null,
	everySeconds: seconds,
	timezone: 'UTC',
	startAt: null,
	endAt: null,
	anchor: new Date(anchor),
	...extra,
});
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const after = (r: Recurrence, from: string, count: number) => iso(occurrencesAfter(r, new Date(from), count));

function cronProblem(expression: string): string {
	try {
		checkCron(expression);
	} catch (error) {
		expect(error).toBeInstanceOf(DomainError);
		const e = error as DomainError;
		expect(e.status).toBe(400);
		expect(e.details[0].field).toBe('cron');
		return e.message;
	}
	throw new Error(`"${expression}" was accepted`);
}

describe('cron occurrences across DST (cron-parser behaviour)', () => {
	it('Europe/Berlin spring forward: 02:00 does not exist on 2027-03-28 and fires once at 03:00 CEST', () => {
		expect(after(cron('0 2 * * *', 'Europe/Berlin'), '2027-03-26T00:00:00Z', 4)).toEqual([
			'2027-03-26T01:00:00.000Z', // 02:00 CET
			'2027-03-27T01:00:00.000Z',
			'2027-03-28T01:00:00.000Z', // the gap: 03:00 CEST
			'2027-03-29T00:00:00.000Z', // 02:00 CEST
		]);
		// A wall time inside the gap moves forward by the gap's length.
		expect(after(cron('30 2 * * *', 'Europe/Berlin'), '2027-03-27T12:00:00Z', 2)).toEqual(['2027-03-28T01:30:00.000Z', '2027-03-29T00:30:00.000Z']);
	});

	it('Europe/Berlin fall back: a fixed hour fires once (first pass), an hourly schedule fires in both passes', () => {
		expect(after(cron('0 2 * * *', 'Europe/Berlin'), '2027-10-29T12:00:00Z', 3)).toEqual([
			'2027-10-30T00:00:00.000Z', // 02:00 CEST
			'2027-10-31T00:00:00.000Z', // 02:00 CEST, first pass; not again at 02:00 CET (01:00Z)
			'2027-11-01T01:00:00.000Z', // 02:00 CET
		]);
		expect(after(cron('0 * * * *', 'Europe/Berlin'), '2027-10-30T23:30:00Z', 4)).toEqual([
			'2027-10-31T00:00:00.000Z', // 02:00 CEST
			'2027-10-31T01:00:00.000Z', // 02:00 CET
			'2027-10-31T02:00:00.000Z',
			'2027-10-31T03:00:00.000Z',
		]);
	});

	it('America/New_York spring forward and fall back', () => {
		expect(after(cron('0 2 * * *', 'America/New_York'), '2027-03-12T12:00:00Z', 4)).toEqual([
			'2027-03-13T07:00:00.000Z', // 02:00 EST
			'2027-03-14T07:00:00.000Z', // the gap: 03:00 EDT
			'2027-03-15T06:00:00.000Z', // 02:00 EDT
			'2027-03-16T06:00:00.000Z',
		]);
		// 02:00 shifted to 03:00 coincides with the 03:00 occurrence: one fire, not two.
		expect(after(cron('0 2,3 * * *', 'America/New_York'), '2027-03-14T00:00:00Z', 3)).toEqual([
			'2027-03-14T07:00:00.000Z',
			'2027-03-15T06:00:00.000Z',
			'2027-03-15T07:00:00.000Z',
		]);
		expect(after(cron('0 1 * * *', 'America/New_York'), '2027-11-05T12:00:00Z', 4)).toEqual([
			'2027-11-06T05:00:00.000Z', // 01:00 EDT
			'2027-11-07T05:00:00.000Z', // 01:00 EDT, first pass; not again at 01:00 EST (06:00Z)
			'2027-11-08T06:00:00.000Z', // 01:00 EST
			'2027-11-09T06:00:00.000Z',
		]);
		expect(after(cron('0 * * * *', 'America/New_York'), '2027-11-07T04:30:00Z', 3)).toEqual([
			'2027-11-07T05:00:00.000Z', // 01:00 EDT
			'2027-11-07T06:00:00.000Z', // 01:00 EST
			'2027-11-07T07:00:00.000Z',
		]);
	});

	it('6-field expressions fire on the second; occurrences are strictly after the given instant', () => {
		expect(after(cron('*/2 * * * * *'), '2027-01-01T10:00:00.500Z', 2)).toEqual(['2027-01-01T10:00:02.000Z', '2027-01-01T10:00:04.000Z']);
		expect(after(cron('*/2 * * * * *'), '2027-01-01T10:00:02.000Z', 1)).toEqual(['2027-01-01T10:00:04.000Z']);
		expect(after(cron('0 12 * * *', 'Asia/Kolkata'), '2027-01-01T00:00:00Z', 1)).toEqual(['2027-01-01T06:30:00.000Z']);
	});

	it('honours startAt (inclusive) and endAt (inclusive)', () => {
		const r = cron('0 * * * *', 'UTC', { startAt: new Date('2027-05-01T10:00:00Z'), endAt: new Date('2027-05-01T12:00:00Z') });
		expect(after(r, '2027-01-01T00:00:00Z', 5)).toEqual(['2027-05-01T10:00:00.000Z', '2027-05-01T11:00:00.000Z', '2027-05-01T12:00:00.000Z']);
		expect(nextOccurrence(r, new Date('2027-05-01T12:00:00Z'))).toBeNull();
		expect(latestOccurrenceAtOrBefore(r, new Date('2027-05-01T11:30:00Z'))?.toISOString()).toBe('2027-05-01T11:00:00.000Z');
		expect(latestOccurrenceAtOrBefore(r, new Date('2027-06-01T00:00:00Z'))?.toISOString()).toBe('2027-05-01T12:00:00.000Z');
		expect(latestOccurrenceAtOrBefore(r, new Date('2027-04-01T00:00:00Z'))).toBeNull();
	});

});

describe('interval occurrences', () => {
	it('count from the anchor, strictly after the instant', () => {
		const r = every(90, '2027-01-01T00:00:00Z');
		expect(after(r, '2027-01-01T00:00:00Z', 2)).toEqual(['2027-01-01T00:01:30.000Z', '2027-01-01T00:03:00.000Z']);
		expect(after(r, '2027-01-01T00:02:00Z', 1)).toEqual(['2027-01-01T00:03:00.000Z']);
		expect(after(r, '2026-12-31T00:00:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
		expect(latestOccurrenceAtOrBefore(r, new Date('2027-01-01T00:04:00Z'))?.toISOString()).toBe('2027-01-01T00:03:00.000Z');
	});

	it('stop at endAt', () => {
		const r = every(60, '2027-01-01T00:00:00Z', { endAt: new Date('2027-01-01T00:02:00Z') });
		expect(after(r, '2027-01-01T00:00:30Z', 5)).toEqual(['2027-01-01T00:01:00.000Z', '2027-01-01T00:02:00.000Z']);
	});
});

describe('cron and time zone validation', () => {
	it('names the bad field', () => {
		expect(cronProblem('61 * * * *')).toMatch(/^cron field 1 \(minute\) "61" is invalid: .*0-59/);
		expect(cronProblem('* 25 * * *')).toMatch(/^cron field 2 \(hour\) "25" is invalid: .*0-23/);
		expect(cronProblem('* * 25 * * *')).toMatch(/^cron field 3 \(hour\) "25"/);
		expect(cronProblem('* * 32 * *')).toMatch(/^cron field 3 \(day of month\) "32"/);
		expect(cronProblem('* * * 13 *')).toMatch(/^cron field 4 \(month\) "13"/);
		expect(cronProblem('* * * * 8')).toMatch(/^cron field 5 \(day of week\) "8"/);
		expect(cronProblem('*/0 * * * *')).toMatch(/^cron field 1 \(minute\) "\*\/0"/);
		expect(cronProblem('x * * * *')).toMatch(/^cron field 1 \(minute\) "x"/);
		expect(cronProblem('0 0 31 2 *')).toMatch(/^cron is invalid: /);
	});

	it('wants 5 or 6 fields and no H', () => {
		expect(cronProblem('* * * *')).toMatch(/5 fields .* or 6 with seconds first; got 4/);
		expect(cronProblem('* * * * * * *')).toMatch(/got 7/);
		expect(cronProblem('H * * * *')).toMatch(/field 1 \(minute\) "H" uses H/);
	});

	it('accepts the usual forms', () => {
		for (const ok of ['*/5 * * * *', '0 9 * * MON-FRI', '0 9 * * THU', '0 0 1 JAN *', '*/2 * * * * *', '0 0 L * *', '0 0 * * 1#2', '@daily', '0 0 29 2 *']) {
			expect(() => checkCron(ok), ok).not.toThrow();
		}
	});

	it('checks IANA time zones', () => {
		for (const ok of ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata']) expect(() => checkTimezone(ok)).not.toThrow();
		for (const bad of ['Mars/Base', '+02:00', 'Europe/Berlinn', '']) {
			expect(() => checkTimezone(bad), bad).toThrow(/^timezone /);
		}
	});

	it('refuses cron in a zone with a 30-minute DST shift, where cron-parser gives up', () => {
		expect(() => checkTimezone('Australia/Lord_Howe', true)).toThrow(/^timezone "Australia\/Lord_Howe" shifts by 30 minutes/);
		expect(() => checkTimezone('Australia/Lord_Howe', false)).not.toThrow();
		expect(() => checkTimezone('Asia/Kolkata', true)).not.toThrow();
		expect(() => checkTimezone('America/St_Johns', true)).not.toThrow();
	});
});

describe('fire plan', () => {
	const base = (over: Partial<PlanInput>): PlanInput => ({
		recurrence: every(10, '2027-01-01T00:00:00Z'),
		nextFireAt: new Date('2027-01-01T00:01:00Z'),
		now: new Date('2027-01-01T00:00:57Z'),
		misfire: 'skip',
		overlap: 'allow',
		previous: 'none',
		lookaheadMs: 5000,
		misfireGraceMs: 30_000,
		maxFires: 100,
		...over,
	});
	const plan = (over: Partial<PlanInput>) => {
		const p = planFires(base(over));
		return { ...p, fires: iso(p.fires), nextFireAt: p.nextFireAt?.toISOString() ?? null };
	};

	it('fires occurrences inside the lookahead ahead of time', () => {
		expect(plan({})).toEqual({ fires: ['2027-01-01T00:01:00.000Z'], nextFireAt: '2027-01-01T00:01:10.000Z', missed: 0, overlapSkipped: 0 });
		expect(plan({ recurrence: every(1, '2027-01-01T00:00:00Z') }).fires).toEqual(['2027-01-01T00:01:00.000Z', '2027-01-01T00:01:01.000Z', '2027-01-01T00:01:02.000Z']);
		expect(plan({ now: new Date('2027-01-01T00:00:50Z') }).fires).toEqual([]);
	});

	it('fires an occurrence that is late by less than the grace', () => {
		expect(plan({ now: new Date('2027-01-01T00:01:02Z') })).toEqual({ fires: ['2027-01-01T00:01:00.000Z'], nextFireAt: '2027-01-01T00:01:10.000Z', missed: 0, overlapSkipped: 0 });
	});

	it('misfire skip drops occurrences missed for longer than the grace; run_once fires the latest of them once', () => {
		const late = { now: new Date('2027-01-01T00:09:45Z'), recurrence: every(60, '2027-01-01T00:00:00Z') };
		expect(plan({ ...late })).toEqual({ fires: [], nextFireAt: '2027-01-01T00:10:00.000Z', missed: 1, overlapSkipped: 0 });
		expect(plan({ ...late, misfire: 'run_once' })).toEqual({ fires: ['2027-01-01T00:09:00.000Z'], nextFireAt: '2027-01-01T00:10:00.000Z', missed: 1, overlapSkipped: 0 });
		// the latest missed one is still within the grace: it fires under skip as well, the older ones do not
		expect(plan({ ...late, now: new Date('2027-01-01T00:09:20Z') }).fires).toEqual(['2027-01-01T00:09:00.000Z']);
	});

	it('overlap skip waits while the previous run is going, and skips the occurrence once it is due', () => {
		expect(plan({ overlap: 'skip', previous: 'running' })).toEqual({ fires: [], nextFireAt: '2027-01-01T00:01:00.000Z', missed: 0, overlapSkipped: 0 });
		expect(plan({ overlap: 'skip', previous: 'running', now: new Date('2027-01-01T00:01:00.500Z') })).toEqual({
			fires: [],
			nextFireAt: '2027-01-01T00:01:10.000Z',
			missed: 0,
			overlapSkipped: 1,
		});
		expect(plan({ overlap: 'skip', previous: 'finished', recurrence: every(1, '2027-01-01T00:00:00Z') }).fires).toEqual(['2027-01-01T00:01:00.000Z']);
	});

	it('ends with endAt', () => {
		const recurrence = every(10, '2027-01-01T00:00:00Z', { endAt: new Date('2027-01-01T00:01:00Z') });
		expect(plan({ recurrence })).toEqual({ fires: ['2027-01-01T00:01:00.000Z'], nextFireAt: null, missed: 0, overlapSkipped: 0 });
	});
});
