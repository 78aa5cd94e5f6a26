/**
 * A queue's status from its figures and the caller's thresholds (README, "Queue health and metrics"): `warning` when a
 * figure is over its threshold, `critical` when it is also at twice the threshold or more, or when
 * due tasks wait for a handler and the queue has no healthy one. Pure, so every edge is tested
 * without a database.
 */

export type HealthStatus = 'ok' | 'warning' | 'critical';

export interface HealthReason {
	code: 'queued_age' | 'failure_rate' | 'stuck' | 'dead_letters' | 'no_handler';
	message: string;
}

/** Query parameters of the health routes; each is "the most that is still fine". */
export interface HealthThresholds {
	/** Seconds the oldest due task may have waited. */
	maxQueuedAgeSeconds: number;
	/** Share of the last hour's attempts that did not deliver, 0–1. */
	maxFailureRate: number;
	maxStuck: number;
	maxDeadLetters: number;
}

/**
 * Defaults: five minutes of waiting, one attempt in five failing, a few stuck tasks (a lost
 * delivery is normally rescued within seconds of its lease ending, so a handful is a blip, more is
 * a rescuer not keeping up), and a hundred dead letters (they are kept for 30 days, so one old
 * failure must not mark a queue for a month).
 */
export const DEFAULT_THRESHOLDS: Readonly<HealthThresholds> = Object.freeze({
	maxQueuedAgeSeconds: 300,
	maxFailureRate: 0.2,
	maxStuck: 5,
	maxDeadLetters: 100,
});

/** What the status looks at. */
export interface StatusInputs {
	oldestQueuedAgeSeconds: number;
	attemptsLastHour: number;
	failuresLastHour: number;
	stuck: number;
	deadLetters: number;
	dueForHandlers: number;
	/** Handlers that receive the queue's task deliveries, and how many of them are healthy. */
	handlers: { count: number; healthy: number };
}

const RANK: Record<HealthStatus, number> = { ok: 0, warning: 1, critical: 2 };

export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
	let worst: HealthStatus = 'ok';
	for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
	return worst;
}

/** `value` against `max`: over it is a warning, at twice it (and over it) critical. */
export function level(value: number, max: number): HealthStatus {
	if (!(value > max)) return 'ok';
	return value >= 2 * max ? 'critical' : 'warning';
}

export function evaluateStatus(f: StatusInputs, t: HealthThresholds): { status: HealthStatus; reasons: HealthReason[] } {
	const found: { level: HealthStatus; reason: HealthReason }[] = [];
	const check = (code: HealthReason['code'], value: number, max: number, describe: (lvl: HealthStatus) => string) => {
		const lvl = level(value, max);
		if (lvl !== 'ok') found.push({ level: lvl, reason: { code, message: describe(lvl) } });
	};

	if (f.dueForHandlers > 0 && f.handlers.healthy === 0) {
		const why =
			f.handlers.count === 0
				? 'the queue has no handler'
				: f.handlers.count === 1
					? 'its one handler is not healthy'
					: `none of its ${f.handlers.count} handlers is healthy`;
		const due = count(f.dueForHandlers, 'due task waits', 'due tasks wait');
		found.push({ level: 'critical', reason: { code: 'no_handler', message: `${due} for a handler and ${why}` } });
	}
	check('queued_age', f.oldestQueuedAgeSeconds, t.maxQueuedAgeSeconds, (lvl) =>
		`the oldest due task has waited ${round(f.oldestQueuedAgeSeconds)} s (${limits(lvl, t.maxQueuedAgeSeconds, ' s')})`,
	);
	if (f.attemptsLastHour > 0) {
		const rate = f.failuresLastHour / f.attemptsLastHour;
		check('failure_rate', rate, t.maxFailureRate, (lvl) =>
			`${f.failuresLastHour} of ${count(f.attemptsLastHour, 'attempt', 'attempts')} in the last hour failed (${percent(rate)}; ${limits(lvl, t.maxFailureRate, '', percent)})`,
		);
	}
	check('stuck', f.stuck, t.maxStuck, (lvl) =>
		`${count(f.stuck, 'task is active past its timeout and grace', 'tasks are active past their timeout and grace')} (${limits(lvl, t.maxStuck)})`,
	);
	check('dead_letters', f.deadLetters, t.maxDeadLetters, (lvl) => `${count(f.deadLetters, 'dead letter', 'dead letters')} (${limits(lvl, t.maxDeadLetters)})`);

	found.sort((a, b) => RANK[b.level] - RANK[a.level]);
	return { status: worstStatus(found.map((x) => x.level)), reasons: found.map((x) => x.reason) };
}

function limits(lvl: HealthStatus, max: number, unit = '', format: (n: number) => string = (n) => String(round(n))): string {
	return lvl === 'critical' ? `critical from ${format(2 * max)}${unit}` : `warning above ${format(max)}${unit}`;
}

/** `1 dead letter`, `2 dead letters`: the number with the words that agree with it. */
export function count(n: number, singular: string, plural: string): string {
	return `${n} ${n === 1 ? singular : plural}`;
}

function round(n: number): number {
	return Math.round(n * 10) / 10;
}

function percent(rate: number): string {
	return `${Math.round(rate * 1000) / 10}%`;
}
