/**
 * A reader of the text/event-stream wire format (the parts /v1/events uses: `event`, `id`, `data`,
 * and `:` comments for pings). The dashboard reads the stream with fetch, so that the key travels
 * in the Authorization header (EventSource cannot send one), and parses it here.
 */
export interface SseEvent {
	/** `event:` (default "message"). */
	type: string;
	/** The last `id:` seen on the stream up to this event (as EventSource's lastEventId), or null. */
	id: string | null;
	/** The `data:` lines joined with "\n". */
	data: string;
}

export class SseParser {
	private buffer = '';
	private type = '';
	private data: string[] = [];
	/**
	 * The stream's position: set by every `id:` line, kept across events (as the SSE standard says),
	 * also by a block that carries only an id and no event.
	 */
	lastEventId: string | null = null;

	/** Feeds decoded text; returns the events completed by it (an event ends at a blank line). */
	push(text: string): SseEvent[] {
		this.buffer += text;
		const events: SseEvent[] = [];
		for (;;) {
			const end = this.buffer.search(/\r\n|\r|\n/);
			if (end < 0) break;
			// A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
			if (this.buffer[end] === '\r' && end === this.buffer.length - 1) break;
			const line = this.buffer.slice(0, end);
			this.buffer = this.buffer.slice(end + (this.buffer.startsWith('\r\n', end) ? 2 : 1));
			const event = this.line(line);
			if (event) events.push(event);
		}
		return events;
	}

	private line(line: string): SseEvent | null {
		if (line === '') {
			const complete = this.data.length > 0 || this.type !== '';
			const event = complete ? { type: this.type || 'message', id: this.lastEventId, data: this.data.join('\n') } : null;
			this.type = '';
			this.data = [];
			return event;
		}
		if (line.startsWith(':')) return null; // a comment: the server's ping
		const colon = line.indexOf(':');
		const field = colon < 0 ? line : line.slice(0, colon);
		const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
		if (field === 'event') this.type = value;
		else if (field === 'data') this.data.push(value);
		else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
		return null;
	}
}
