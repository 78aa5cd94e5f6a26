import { latestOccurrenceAtOrBefore, nextOccurrence, type Recurrence } from './occurrences.js';

export type Misfire = 'skip' | 'run_once';
export type Overlap = 'allow' | 'skip';

/**
 * Where the schedule's latest task stands (its "previous run"): `none`/`finished`, `running`
 * (queued and due, active or retrying), or `pending` (created ahead of an occurrence that has not
 * come yet).
 */
export type PreviousRun = 'none' | 'finished' | 'running' | 'pending';

export interface PlanInput {
	recurrence: Recurrence;
	/** The next occurrence not yet turned into a task. */
	nextFireAt: Date;
	/** The database clock. */
	now: Date;
	misfire: Misfire;
	overlap: Overlap;
	previous: PreviousRun;
	/** Occurrences up to this far ahead are turned into tasks now, due at their instant. */
	lookaheadMs: number;
	/** An occurrence overdue by at most this much is late, not missed: it still fires. */
	misfireGraceMs: number;
	/** At most this many tasks per schedule and run. */
	maxFires: number;
}

export interface FirePlan {
	/** Occurrences to turn into tasks (each due at its instant, or at once when overdue). */
	fires: Date[];
	/** The schedule's next occurrence after this run; null when it has ended. */
	nextFireAt: Date | null;
	/** 1 when overdue occurrences were dropped by the misfire rule (a misfire), else 0. */
	missed: number;
	/** Occurrences dropped because the previous run was still going (`overlap: skip`). */
	overlapSkipped: number;
}

/**
 * Decides what one run of the enqueuer does with one schedule.
 *
 * Overdue occurrences (at or before now: every engine was down or stalled longer than the
 * lookahead) collapse into at most one task, for the latest of them: it fires when it is late by no
 * more than the grace, or always under `misfire: run_once`; everything older is missed. Then every
 * occurrence up to now + lookahead fires ahead of time, due at its instant, so its lateness depends
 * on the dispatcher's timer and not on this loop's period.
 *
 * `overlap: skip` cannot know ahead of time whether the previous run will have finished by the next
 * occurrence, so while a run is going it waits: the occurrence stays next, and a later run either
 * fires it (the run finished in time) or, once it is due, skips it.
 */
export function planFires(p: PlanInput): FirePlan {
	const fires: Date[] = [];
	let missed = 0;
	let overlapSkipped = 0;
	let cursor: Date | null = p.nextFireAt;
	const now = p.now.getTime();
	const busy = () => fires.length > 0 || p.previous === 'running' || p.previous === 'pending';

	if (cursor.getTime() <= now) {
		const latest = latestOccurrenceAtOrBefore(p.recurrence, p.now);
		// cron-parser's prev() and next() can disagree inside a DST repeat; never go back before the cursor.
		const last = latest && latest.getTime() >= cursor.getTime() ? latest : cursor;
		const fireLast = now - last.getTime() <= p.misfireGraceMs || p.misfire === 'run_once';
		if (fireLast && p.overlap === 'skip' && busy()) overlapSkipped += 1;
		else if (fireLast) fires.push(last);
		if (last.getTime() > cursor.getTime() || !fireLast) missed = 1;
		cursor = nextOccurrence(p.recurrence, p.now);
	}

	const horizon = now + p.lookaheadMs;
	while (cursor && cursor.getTime() <= horizon && fires.length < p.maxFires) {
		if (p.overlap === 'skip' && busy()) break;
		fires.push(cursor);
		cursor = nextOccurrence(p.recurrence, cursor);
	}
	return { fires, nextFireAt: cursor, missed, overlapSkipped };
}
