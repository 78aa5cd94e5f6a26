import { describe, expect, it } from 'vitest';
import { describeFailure, formatDuration, formatPriority, formatRelative } from '../../engine/ui/src/format';

/** How the dashboard writes durations, times to come and failures. */
describe('dashboard formats', () => {
	it('writes durations at a readable scale', () => {
		expect(formatDuration(850)).toBe('850 ms');
		expect(formatDuration(1234)).toBe('1.2 s');
		expect(formatDuration(184_000)).toBe('3 min 4 s');
		expect(formatDuration(120_000)).toBe('2 min');
		expect(formatDuration(7_500_000)).toBe('2 h 5 min');
		expect(formatDuration((63 * 60 + 41) * 60_000)).toBe('2 d 15 h');
		expect(formatDuration(2 * 86_400_000)).toBe('2 d');
		expect(formatDuration(null)).toBe('–');
	});

	it('says when, relative to now', () => {
		const now = Date.parse('2026-12-04T12:00:00Z');
		expect(formatRelative('2026-12-04T12:03:00Z', now)).toBe('in 3 min');
		expect(formatRelative('2026-12-04T11:59:48Z', now)).toBe('12 s ago');
		expect(formatRelative('2026-12-04T12:00:00.400Z', now)).toBe('just now');
		expect(formatRelative(null, now)).toBe('–');
	});

	it('names the priority classes', () => {
		expect([10, 0, -10, 42].map(formatPriority)).toEqual(['high', 'normal', 'low', '42']);
	});

	it('says a failure once: status and class only when the message does not', () => {
		expect(describeFailure(422, null, 'HTTP 422 Unprocessable Entity')).toBe('HTTP 422 Unprocessable Entity');
		expect(describeFailure(500, null, 'upstream exploded')).toBe('HTTP 500 · upstream exploded');
		expect(describeFailure(null, 'timeout', 'no answer within 30 s')).toBe('timeout · no answer within 30 s');
		expect(describeFailure(null, 'timeout', null)).toBe('timeout');
	});
});
