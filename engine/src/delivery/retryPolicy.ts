/**
 * Retry timing as pure functions (docs/delivery-contract.md, "The answer"): no clock, no randomness
 * and no I/O of their own, so callers and tests pass `now` and `random` in.
 */

/** `exponential`: delaySeconds × 2^(n−1) after the n-th failure; `fixed`: always delaySeconds. */
export type Backoff = 'exponential' | 'fixed';

/** How a task is retried. Attempts = `limit` + 1. */
export interface RetryPolicy {
	/** Retries after the first attempt (0 = never retry). */
	limit: number;
	/** Base delay before the first retry, in seconds. */
	delaySeconds: number;
	/** How the delay grows from one retry to the next. */
	backoff: Backoff;
	/** Upper bound of any delay, jittered or from Retry-After, in seconds. */
	maxDelaySeconds: number;
}

/** The guide's priority classes; an integer priority maps onto one by its sign. */
export type PriorityClass = 'high' | 'normal' | 'low';

const DEFAULT_BACKOFF = { delaySeconds: 60, backoff: 'exponential', maxDelaySeconds: 3600 } as const;

/**
 * Defaults per priority class, used field by field where neither the task nor its queue says
 * otherwise (task over queue over class).
 */
export const PRIORITY_CLASS_DEFAULTS: Record<
	PriorityClass,
	{ retry: RetryPolicy; timeoutSeconds: number; priority: number }
> = {
	high: { retry: { limit: 5, ...DEFAULT_BACKOFF }, timeoutSeconds: 30, priority: 10 },
	normal: { retry: { limit: 3, ...DEFAULT_BACKOFF }, timeoutSeconds: 60, priority: 0 },
	low: { retry: { limit: 2, ...DEFAULT_BACKOFF }, timeoutSeconds: 300, priority: -10 },
};

/** The class whose defaults an integer priority takes: above 0 high, below 0 low, 0 normal. */
export function priorityClassOf(priority: number): PriorityClass {
	if (priority > 0) return 'high';
	if (priority < 0) return 'low';
	return 'normal';
}

/** Optional inputs of {@link retryDelaySeconds} and {@link nextAttemptAt}. */
export interface RetryDelayOptions {
	/** From the handler's Retry-After header (see {@link parseRetryAfter}); wins when present. */
	retryAfterSeconds?: number;
	/** Uniform source in [0, 1) for the jitter; Math.random by default. */
	random?: () => number;
}

/** Share of the computed delay that jitter may add or remove. */
const JITTER = 0.25;

// 2^30 × any sane base delay is far beyond any cap, and keeps the arithmetic finite for
// absurd attempt numbers (2^1024 is Infinity, and Infinity × 0 is NaN).
const MAX_EXPONENT = 30;

/** Delay before the next attempt after the n-th failed attempt of the current budget (n ≥ 1). */
export function retryDelaySeconds(
	policy: RetryPolicy,
	failedAttempt: number,
	opts: RetryDelayOptions = {},
): number {
	const cap = Math.max(0, policy.maxDelaySeconds);
	const { retryAfterSeconds } = opts;
	// The handler knows its own load better than our backoff does, so its Retry-After is used
	// as is (no jitter); the cap still protects the queue from a handler asking for a week.
	if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0) {
		return Math.min(retryAfterSeconds, cap);
	}

	const base = Math.max(0, policy.delaySeconds);
	const n = Number.isNaN(failedAttempt) ? 1 : Math.max(1, Math.floor(failedAttempt));
	const computed = policy.backoff === 'fixed' ? base : base * 2 ** Math.min(n - 1, MAX_EXPONENT);

	// Jitter spreads out retries of tasks that failed together (a handler outage), so they do
	// not all come back in the same second.
	const r = Math.min(Math.max((opts.random ?? Math.random)(), 0), 1);
	const jittered = computed * (1 - JITTER + 2 * JITTER * r);
	return Math.min(Math.max(0, jittered), cap);
}

/** The instant of the next attempt: `now` + {@link retryDelaySeconds}, to the millisecond. */
export function nextAttemptAt(
	policy: RetryPolicy,
	failedAttempt: number,
	now: Date,
	opts: RetryDelayOptions = {},
): Date {
	return new Date(now.getTime() + Math.round(retryDelaySeconds(policy, failedAttempt, opts) * 1000));
}

// RFC 9110 HTTP-date: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and the obsolete RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994") forms all start
// with a day name. Requiring it keeps Date.parse from reading stray numbers as dates.
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;

/** Parses a Retry-After header: delta seconds or an HTTP-date (relative to `now`). Undefined when absent/invalid; never negative. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
	if (value === undefined) return undefined;
	const text = value.trim();
	if (/^\d+$/.test(text)) {
		const seconds = Number(text);
		return Number.isFinite(seconds) ? seconds : undefined;
	}
	if (!HTTP_DATE.test(text)) return undefined;
	// asctime carries no zone but means GMT; Date.parse would read it as local time.
	const at = Date.parse(/GMT$/i.test(text) ? text : `${text} GMT`);
	if (Number.isNaN(at)) return undefined;
	// Rounded up: retrying a fraction of a second before the date the handler named is too early.
	return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
