import { describe, expect, it } from 'vitest';
import { SseParser } from '../../engine/ui/src/sse';

/** The dashboard's reader of /v1/events (it reads the stream with fetch, so it parses the wire itself). */
describe('SseParser', () => {
	it('reads event, id and data, and ends an event at a blank line', () => {
		const events = new SseParser().push('event: task.state\nid: 42\ndata: {"id":"a","state":"active"}\n\n');
		expect(events).toEqual([{ type: 'task.state', id: '42', data: '{"id":"a","state":"active"}' }]);
	});

	it('joins an event split across chunks anywhere, \\r\\n included', () => {
		const wire = 'event: queue.stats\r\nid: 7\r\ndata: {"queue":"emails"}\r\n\r\nevent: task.state\r\ndata: {}\r\n\r\n';
		for (let cut = 1; cut < wire.length; cut += 1) {
			const parser = new SseParser();
			const events = [...parser.push(wire.slice(0, cut)), ...parser.push(wire.slice(cut))];
			expect(events.map((e) => e.type), `cut at ${cut}`).toEqual(['queue.stats', 'task.state']);
			expect(events[0]).toEqual({ type: 'queue.stats', id: '7', data: '{"queue":"emails"}' });
		}
	});

	it('skips comments (pings), joins several data lines, and passes events without data (reset)', () => {
		const events = new SseParser().push(': connected\n\n: ping\n\ndata: line 1\ndata: line 2\n\nevent: reset\n\n');
		expect(events).toEqual([
			{ type: 'message', id: null, data: 'line 1\nline 2' },
			{ type: 'reset', id: null, data: '' },
		]);
	});

	it('keeps the last id across events, also from a block that carries only an id', () => {
		const parser = new SseParser();
		expect(parser.push('id: 5\n\n')).toEqual([]);
		expect(parser.lastEventId).toBe('5');
		expect(parser.push('event: task.state\ndata: {}\n\nid: 9\nevent: queue.stats\ndata: {}\n\n')).toEqual([
			{ type: 'task.state', id: '5', data: '{}' },
			{ type: 'queue.stats', id: '9', data: '{}' },
		]);
		expect(parser.lastEventId).toBe('9');
	});

	it('takes a value without the one space after the colon, and a field without a colon', () => {
		expect(new SseParser().push('event:overflow\ndata\n\n')).toEqual([{ type: 'overflow', id: null, data: '' }]);
	});
});
