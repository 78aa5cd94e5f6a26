import type { ServerResponse } from 'node:http';
import type { EventPosition } from './eventPosition.js';
import { accepts, type EventFilter, type EventType } from './eventTypes.js';

/** One event, serialised once and written to every stream that wants it. */
export interface Frame {
	type: EventType;
	queue: string;
	/** Its row in the event log; null for computed events (never replayed). */
	logId: number | null;
	/** The SSE id: the resume position after this event. */
	id: string;
	text: string;
}

export function frame(type: EventType, queue: string, logId: number | null, id: string, data: unknown): Frame {
	return { type, queue, logId, id, text: `event: ${type}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n` };
}

/** A stream left this long after its overflow event without taking it is cut. */
const OVERFLOW_LINGER_MS = 10_000;

/**
 * One client's Server-Sent Events stream over the raw response. While it starts (a resume being
 * replayed), live events are held, within the same bound; then it is live. Whatever the client does
 * not take stays in the response's buffer: past `maxBufferBytes` the stream gets `event: overflow`
 * and ends, so a slow client costs bounded memory and never slows the others.
 */
export class EventStream {
	private phase: 'starting' | 'live' | 'closed' = 'starting';
	private held: Frame[] = [];
	private heldBytes = 0;
	/** The SSE id of the last event written: where the client resumes after an overflow. */
	private lastId: string | null = null;
	/** What the client already has from its replay: not sent again (cleared once the reader has read past it, after the start). */
	seenAhead: EventPosition | null = null;

	constructor(
		private readonly res: ServerResponse,
		readonly filter: EventFilter,
		private readonly maxBufferBytes: number,
		private readonly onClose: (stream: EventStream) => void,
		/** Whether the stream's API key is still accepted (checked at each ping); null: not checked. */
		readonly keyStillValid: (() => Promise<boolean>) | null = null,
	) {
		res.on('close', () => this.close());
		// A client gone before the stream began has already had its 'close'.
		if (res.destroyed || res.socket === null || res.socket.destroyed) queueMicrotask(() => this.close());
	}

	get closed(): boolean {
		return this.phase === 'closed';
	}

	get live(): boolean {
		return this.phase === 'live';
	}

	/** Sends the headers (the stream has begun: errors after this are events, not status codes). */
	begin(): void {
		this.res.writeHead(200, {
			'content-type': 'text/event-stream; charset=utf-8',
			'cache-control': 'no-cache, no-transform',
			connection: 'keep-alive',
			// Reverse proxies (nginx) would otherwise hold events back in their buffers.
			'x-accel-buffering': 'no',
		});
		this.res.write(': connected\n\n');
	}

	wants(type: EventType, queue: string): boolean {
		return accepts(this.filter, type, queue);
	}

	/** Events read from the log or computed, in order; held while starting, written at once when live. */
	deliver(frames: readonly Frame[]): void {
		if (this.phase === 'closed') return;
		let chunk = '';
		let last: string | null = null;
		for (const f of frames) {
			if (!this.wants(f.type, f.queue)) continue;
			if (f.logId !== null && this.seenAhead?.has(f.logId)) continue;
			if (this.phase === 'starting') {
				// Computed figures are not held: the next ones come within seconds.
				if (f.logId === null) continue;
				this.held.push(f);
				this.heldBytes += f.text.length;
				continue;
			}
			chunk += f.text;
			last = f.id;
		}
		if (this.phase === 'starting' && this.heldBytes > this.maxBufferBytes) return this.overflow();
		if (chunk !== '') this.write(chunk, last);
	}

	/** Replayed events (already filtered by position): written, then the caller waits for `drained`. */
	replay(frames: readonly Frame[]): void {
		let chunk = '';
		let last: string | null = null;
		for (const f of frames) {
			if (!this.wants(f.type, f.queue)) continue;
			chunk += f.text;
			last = f.id;
		}
		if (chunk !== '') this.write(chunk, last, true);
	}

	/** Resolves once the client has taken what was written (or the stream closed). */
	drained(): Promise<void> {
		if (this.phase === 'closed' || !this.res.writableNeedDrain) return Promise.resolve();
		return new Promise((resolve) => {
			const done = () => {
				this.res.off('drain', done);
				this.res.off('close', done);
				resolve();
			};
			this.res.on('drain', done);
			this.res.on('close', done);
		});
	}

	/** A position the client cannot resume from: start over from `id` (the client reloads what it shows). */
	reset(id: string, reason: string): void {
		this.write(`event: reset\nid: ${id}\ndata: ${JSON.stringify({ reason })}\n\n`, id);
	}

	/** Ends the start: the events held meanwhile go out (those the replay already sent are skipped). */
	goLive(): void {
		if (this.phase !== 'starting') return;
		this.phase = 'live';
		const held = this.held;
		this.held = [];
		this.heldBytes = 0;
		this.deliver(held);
	}

	/**
	 * Tells a client that did not resume where the stream starts: a block with only an `id:` (no
	 * event is dispatched, but the client's last event id is set, as the SSE standard says). A client
	 * whose stream drops before any event came can then resume instead of starting blind.
	 */
	position(id: string): void {
		if (this.phase === 'live') this.write(`id: ${id}\n\n`, id);
	}

	/** A comment line, so proxies and clients see the connection alive. */
	ping(): void {
		if (this.phase === 'live') this.res.write(': ping\n\n');
	}

	/** Ends the stream from the engine's side (shutdown; a revoked key, with a comment saying so). */
	end(comment?: string): void {
		if (this.phase === 'closed') return;
		this.res.end(comment === undefined ? undefined : `: ${comment}\n\n`);
		this.close();
	}

	private write(chunk: string, lastId: string | null, replaying = false): void {
		if (this.phase === 'closed') return;
		// While replaying, the caller waits for the client between pages; the bound is for live events.
		if (!replaying && this.res.writableLength > this.maxBufferBytes) return this.overflow();
		this.res.write(chunk);
		if (lastId !== null) this.lastId = lastId;
	}

	/**
	 * The client fell too far behind: one last event, then the stream ends. Its id is the last one
	 * written, so a client that reconnects with it resumes where it really is (within the window).
	 */
	private overflow(): void {
		const id = this.lastId === null ? '' : `id: ${this.lastId}\n`;
		const data = JSON.stringify({ reason: `the client fell more than ${this.maxBufferBytes} bytes behind; reconnect with Last-Event-ID to resume` });
		this.res.end(`event: overflow\n${id}data: ${data}\n\n`);
		const cut = setTimeout(() => this.res.destroy(), OVERFLOW_LINGER_MS);
		cut.unref();
		this.res.once('close', () => clearTimeout(cut));
		this.close();
	}

	private close(): void {
		if (this.phase === 'closed') return;
		this.phase = 'closed';
		this.held = [];
		this.onClose(this);
	}
}
