import { describe, expect, it } from 'vitest';
import {
	PRIORITY_CLASS_DEFAULTS,
	nextAttemptAt,
	parseRetryAfter,
	priorityClassOf,
	retryDelaySeconds,
	type RetryPolicy,
} from '../../../engine/src/delivery/retryPolicy.js';

const policy: RetryPolicy = PRIORITY_CLASS_DEFAULTS.normal.retry;
const middle = () => 0.5; // no jitter
const now = new Date('2026-03-01T12:00:00.000Z');

describe('priority classes', () => {
	it('has the guide defaults', () => {
		expect(PRIORITY_CLASS_DEFAULTS).toEqual({
			high: { retry: { limit: 5, delaySeconds: 60, backoff: 'exponential', maxDelaySeconds: 3600 }, timeoutSeconds: 30, priority: 10 },
			normal: { retry: { limit: 3, delaySeconds: 60, backoff: 'exponential', maxDelaySeconds: 3600 }, timeoutSeconds: 60, priority: 0 },
			low: { retry: { limit: 2, delaySeconds: 60, backoff: 'exponential', maxDelaySeconds: 3600 }, timeoutSeconds: 300, priority: -10 },
		});
	});

	it('maps integer priorities by sign', () => {
		expect([100, 1, 0, -1, -100].map(priorityClassOf)).toEqual(['high', 'high', 'normal', 'low', 'low']);
	});
});

describe('retryDelaySeconds', () => {
	it('doubles from 60 s: 60, 120, 240, 480', () => {
		expect([1, 2, 3, 4].map((n) => retryDelaySeconds(policy, n, { random: middle }))).toEqual([60, 120, 240, 480]);
	});

	it('jitters ±25 %: random 0 → −25 %, random just under 1 → +25 %', () => {
		expect(retryDelaySeconds(policy, 1, { random: () => 0 })).toBe(45);
		expect(retryDelaySeconds(policy, 3, { random: () => 0 })).toBe(180);
		const high = retryDelaySeconds(policy, 1, { random: () => 0.9999 });
		expect(high).toBeLessThanOrEqual(75);
		expect(high).toBeCloseTo(75, 2);
		expect(retryDelaySeconds(policy, 1, { random: () => 1 - Number.EPSILON })).toBeLessThanOrEqual(75);
		for (let i = 0; i < 200; i++) {
			const d = retryDelaySeconds(policy, 2);
			expect(d).toBeGreaterThanOrEqual(90);
			expect(d).toBeLessThanOrEqual(150);
		}
	});

	it('caps after jitter at maxDelaySeconds', () => {
		// 60 × 2^6 = 3840 > 3600
		expect(retryDelaySeconds(policy, 7, { random: middle })).toBe(3600);
		expect(retryDelaySeconds(policy, 7, { random: () => 0 })).toBe(2880);
		expect(retryDelaySeconds({ ...policy, maxDelaySeconds: 100 }, 2, { random: () => 0.99 })).toBe(100);
	});

	it('keeps a fixed delay fixed (jitter aside)', () => {
		const fixed: RetryPolicy = { ...policy, backoff: 'fixed', delaySeconds: 30 };
		expect([1, 2, 10].map((n) => retryDelaySeconds(fixed, n, { random: middle }))).toEqual([30, 30, 30]);
		expect(retryDelaySeconds(fixed, 5, { random: () => 0 })).toBe(22.5);
	});

	it('lets Retry-After win without jitter, still capped', () => {
		expect(retryDelaySeconds(policy, 3, { retryAfterSeconds: 7, random: () => 0 })).toBe(7);
		expect(retryDelaySeconds(policy, 1, { retryAfterSeconds: 0 })).toBe(0);
		expect(retryDelaySeconds(policy, 1, { retryAfterSeconds: 86400 })).toBe(3600);
	});

	it('ignores an invalid Retry-After value', () => {
		for (const retryAfterSeconds of [Number.NaN, -5, Number.POSITIVE_INFINITY]) {
			expect(retryDelaySeconds(policy, 2, { retryAfterSeconds, random: middle })).toBe(120);
		}
	});

	it('does not overflow for large attempt numbers and is never negative', () => {
		for (const n of [31, 1024, 1e6, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]) {
			expect(retryDelaySeconds(policy, n, { random: middle })).toBe(3600);
		}
		const zero: RetryPolicy = { ...policy, delaySeconds: 0 };
		expect(retryDelaySeconds(zero, 1e6, { random: () => 0.99 })).toBe(0);
		expect(retryDelaySeconds(policy, 0, { random: middle })).toBe(60);
		expect(retryDelaySeconds(policy, -3, { random: middle })).toBe(60);
		expect(retryDelaySeconds({ ...policy, delaySeconds: -10 }, 2, { random: middle })).toBe(0);
	});
});

describe('nextAttemptAt', () => {
	it('adds the delay to now', () => {
		expect(nextAttemptAt(policy, 2, now, { random: middle }).toISOString()).toBe('2026-03-01T12:02:00.000Z');
		expect(nextAttemptAt(policy, 1, now, { random: () => 0 }).toISOString()).toBe('2026-03-01T12:00:45.000Z');
		expect(nextAttemptAt(policy, 1, now, { retryAfterSeconds: 3 }).toISOString()).toBe('2026-03-01T12:00:03.000Z');
		expect(nextAttemptAt(policy, 1e9, now, { random: middle }).toISOString()).toBe('2026-03-01T13:00:00.000Z');
	});
});

describe('parseRetryAfter', () => {
	it('reads delta seconds', () => {
		expect(parseRetryAfter('3', now)).toBe(3);
		expect(parseRetryAfter(' 120 ', now)).toBe(120);
		expect(parseRetryAfter('0', now)).toBe(0);
	});

	it('reads an HTTP-date relative to now, never negative', () => {
		expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', now)).toBe(30);
		expect(parseRetryAfter('Sunday, 01-Mar-26 12:01:00 GMT', now)).toBe(60);
		expect(parseRetryAfter('Sun Mar  1 12:00:10 2026', now)).toBe(10);
		expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
		// a date between whole seconds is rounded up, never early
		expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', new Date('2026-03-01T12:00:00.400Z'))).toBe(30);
	});

	it('ignores absent and garbage values', () => {
		for (const value of [undefined, '', '  ', 'soon', '-5', '1.5', '3 seconds', '2026-03-01T12:00:30Z', 'Sun, garbage', '1e3']) {
			expect(parseRetryAfter(value, now), String(value)).toBeUndefined();
		}
	});

	it('feeds retryDelaySeconds, which caps it', () => {
		const retryAfterSeconds = parseRetryAfter('Mon, 02 Mar 2026 12:00:00 GMT', now);
		expect(retryAfterSeconds).toBe(86400);
		expect(retryDelaySeconds(policy, 1, { retryAfterSeconds })).toBe(3600);
	});
});
