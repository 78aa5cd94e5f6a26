import { describe, expect, it } from 'vitest';
import { EventPosition, MAX_TOKEN_GAPS } from '../../engine/src/events/eventPosition.js';

/** The event stream's position and resume token (engine/src/events/eventPosition.ts): pure. */
describe('EventPosition', () => {
	it('opens gaps for ids jumped over, fills them when the late ids come, and gives them up when old', () => {
		const p = EventPosition.at(10);
		expect(p.observe(11, 0)).toBe(true);
		expect(p.observe(15, 0)).toBe(true);
		expect(p.gaps).toEqual([{ from: 12, to: 14, openedAt: 0 }]);
		expect(p.toString()).toBe('15~12-14');
		expect(p.observe(13, 1)).toBe(true);
		expect(p.toString()).toBe('15~12,14');
		expect(p.observe(13, 1)).toBe(false); // a repeat
		expect(p.observe(9, 1)).toBe(false);
		expect(p.has(13)).toBe(true);
		expect(p.has(12)).toBe(false);
		expect(p.lowestOpen).toBe(12);
		expect(p.expire(5_000, 10_000)).toBe(0);
		expect(p.expire(10_000, 10_000)).toBe(2);
		expect(p.toString()).toBe('15');
	});

	it('reads back the tokens it writes and refuses anything else', () => {
		for (const token of ['0', '15', '15~12-14', '15~3,5-7,12']) expect(EventPosition.parse(token)?.toString()).toBe(token);
		for (const bad of ['', 'x', '-1', '15~', '15~14-12', '15~15', '15~7,5', '15~5-7,6', '15~0', '1.5', '15 ']) expect(EventPosition.parse(bad), bad).toBeNull();
		const many = `100~${Array.from({ length: MAX_TOKEN_GAPS + 1 }, (_, i) => String(i * 2 + 1)).join(',')}`;
		expect(EventPosition.parse(many)).toBeNull();
	});

	it('falls back to a lower position (repeats, never losses) when it has more gaps than a token carries', () => {
		const p = EventPosition.at(0);
		for (let id = 2; id <= (MAX_TOKEN_GAPS + 2) * 2; id += 2) p.observe(id, 0);
		expect(p.gaps.length).toBeGreaterThan(MAX_TOKEN_GAPS);
		expect(p.toString()).toBe('0');
	});

	it('tells whether a range was entirely unseen', () => {
		const p = EventPosition.parse('20~5-8,10') as EventPosition;
		expect(p.sawNoneOf(5, 8)).toBe(true);
		expect(p.sawNoneOf(6, 7)).toBe(true);
		expect(p.sawNoneOf(5, 9)).toBe(false);
		expect(p.sawNoneOf(10, 10)).toBe(true);
		expect(p.sawNoneOf(21, 30)).toBe(true);
		expect(p.sawNoneOf(19, 25)).toBe(false);
	});
});
