import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { SseParser } from './sse';

/**
 * The page's one connection to `GET /v1/events` (docs/architecture.md, "Live events"). Views subscribe to the event types
 * (and queues) they show; the stream asks the engine for exactly the union of those, reconnecting
 * when it changes, so a page watching one queue is not sent the events of a million others.
 *
 * - A dropped connection reconnects with backoff and `Last-Event-ID`, so nothing is missed inside
 *   the engine's resume window; outside it the engine starts with `reset`, which views answer by
 *   loading their data again.
 * - `overflow` (this page read too slowly) closes the stream: it reconnects at once from the last id.
 * - The engine pings every 15 s; 40 s of silence means a dead connection, which is replaced.
 * - A new filter resumes from the last id of the stream it replaces (every stream begins with its
 *   position). A view loads its data before its stream is open (the task page even has to, to learn
 *   its queue), so what changes in between comes as replayed events — views apply events as
 *   changes of state, so one that repeats what a load already showed is harmless, while a change
 *   never sent would leave the page stale. Without any id yet (the engine was unreachable from the
 *   start), the views are told `reset` once the stream is open, and load again.
 */

export interface LiveEvent {
	type: string;
	id: string | null;
	// Each view reads the shape of the types it subscribed to (types.ts).
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	data: any;
}

/** `idle`: the view shown needs no live data, so no stream is open. */
export type LiveStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'unavailable';

interface Subscription {
	queues: string[] | null;
	types: string[];
	listener: (event: LiveEvent) => void;
}

const BACKOFF_MS = [1000, 2000, 5000, 10_000, 15_000];
const SILENCE_LIMIT_MS = 40_000;
/** An engine without the event stream (404): look again now and then, quietly. */
const UNAVAILABLE_RETRY_MS = 30_000;

export class LiveStream {
	private readonly subscriptions = new Set<Subscription>();
	private readonly statusListeners = new Set<(status: LiveStatus) => void>();
	private status: LiveStatus = 'connecting';
	private url: string | null = null;
	private lastEventId: string | null = null;
	private controller: AbortController | null = null;
	private retryTimer: ReturnType<typeof setTimeout> | undefined;
	private watchdog: ReturnType<typeof setTimeout> | undefined;
	private failures = 0;
	private filterCheck = false;
	private stopped = false;

	constructor(
		private readonly key: string,
		private readonly onUnauthorized: () => void,
	) {}

	get currentStatus(): LiveStatus {
		return this.status;
	}

	subscribe(queues: string[] | null, types: string[], listener: (event: LiveEvent) => void): () => void {
		const subscription = { queues, types, listener };
		this.subscriptions.add(subscription);
		this.scheduleFilterCheck();
		return () => {
			this.subscriptions.delete(subscription);
			this.scheduleFilterCheck();
		};
	}

	onStatus(listener: (status: LiveStatus) => void): () => void {
		this.statusListeners.add(listener);
		return () => this.statusListeners.delete(listener);
	}

	stop(): void {
		this.stopped = true;
		this.disconnect();
	}

	/** Unsubscribe-then-subscribe while moving between views makes one reconnect, not two. */
	private scheduleFilterCheck(): void {
		if (this.filterCheck) return;
		this.filterCheck = true;
		setTimeout(() => {
			this.filterCheck = false;
			const url = this.wantedUrl();
			if (url === this.url) return;
			this.url = url;
			this.failures = 0;
			this.disconnect();
			if (url !== null) void this.connect(url, 'connecting');
			else this.setStatus('idle');
		}, 0);
	}

	private wantedUrl(): string | null {
		const wanted = [...this.subscriptions].filter((s) => s.types.length > 0);
		if (wanted.length === 0) return null;
		const types = new Set<string>();
		const queues = new Set<string>();
		let everyQueue = false;
		for (const s of wanted) {
			for (const t of s.types) types.add(t);
			if (s.queues === null) everyQueue = true;
			else for (const q of s.queues) queues.add(q);
		}
		const params = new URLSearchParams();
		if (!everyQueue) for (const q of [...queues].sort()) params.append('queue', q);
		params.set('types', [...types].sort().join(','));
		return `/v1/events?${params.toString()}`;
	}

	private disconnect(): void {
		clearTimeout(this.retryTimer);
		clearTimeout(this.watchdog);
		this.controller?.abort();
		this.controller = null;
	}

	private setStatus(status: LiveStatus): void {
		if (status === this.status) return;
		this.status = status;
		for (const listener of this.statusListeners) listener(status);
	}

	private async connect(url: string, status: 'connecting' | 'reconnecting'): Promise<void> {
		const controller = new AbortController();
		this.controller = controller;
		const current = () => this.controller === controller && !this.stopped;
		if (this.status !== 'unavailable') this.setStatus(status);
		let again = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
		try {
			const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, accept: 'text/event-stream' };
			if (this.lastEventId !== null) headers['last-event-id'] = this.lastEventId;
			// No position to resume from (a drop before the first id, or a new filter before any
			// stream gave one): what happened since the views loaded is unknown.
			const blind = this.lastEventId === null;
			const response = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
			if (response.status === 401) {
				this.onUnauthorized();
				return;
			}
			if (response.status === 404) {
				this.setStatus('unavailable');
				again = UNAVAILABLE_RETRY_MS;
			} else if (response.ok && response.body) {
				this.failures = 0;
				this.setStatus('live');
				if (blind) this.dispatch('reset', null, '');
				again = await this.read(response.body, controller, current);
			}
		} catch {
			// network error, or aborted (checked below)
		}
		if (!current()) return;
		this.failures += 1;
		if (this.status === 'live') this.setStatus('reconnecting');
		this.retryTimer = setTimeout(() => {
			if (current()) void this.connect(url, 'reconnecting');
		}, again);
	}

	/** Reads until the stream ends; returns how long to wait before reconnecting. */
	private async read(body: ReadableStream<Uint8Array>, controller: AbortController, current: () => boolean): Promise<number> {
		const reader = body.getReader();
		const decoder = new TextDecoder();
		const parser = new SseParser();
		const arm = () => {
			clearTimeout(this.watchdog);
			this.watchdog = setTimeout(() => controller.abort(), SILENCE_LIMIT_MS);
		};
		arm();
		let wait = BACKOFF_MS[0];
		for (;;) {
			const { value, done } = await reader.read();
			if (done || !current()) break;
			arm();
			for (const event of parser.push(decoder.decode(value, { stream: true }))) {
				// The engine closes the stream after `overflow`: come back at once from the last id.
				if (event.type === 'overflow') wait = 0;
				else this.dispatch(event.type, event.id, event.data);
			}
			if (parser.lastEventId !== null) this.lastEventId = parser.lastEventId;
		}
		clearTimeout(this.watchdog);
		return wait;
	}

	private dispatch(type: string, id: string | null, text: string): void {
		let data: unknown = null;
		try {
			data = text ? JSON.parse(text) : null;
		} catch {
			return; // not an event this page understands
		}
		const queue = eventQueue(data);
		for (const s of this.subscriptions) {
			if (type !== 'reset' && !s.types.includes(type)) continue;
			if (type !== 'reset' && s.queues !== null && queue !== null && !s.queues.includes(queue)) continue;
			try {
				s.listener({ type, id, data });
			} catch (error) {
				console.error('live event handler failed', error);
			}
		}
	}
}

/** The queue an event is about: `queue` on task.state, batch.progress and queue.stats; `task.queue` on task.dead_lettered. */
function eventQueue(data: unknown): string | null {
	const d = data as { queue?: unknown; task?: { queue?: unknown } } | null;
	if (typeof d?.queue === 'string') return d.queue;
	if (typeof d?.task?.queue === 'string') return d.task.queue;
	return null;
}

export const LiveContext = createContext<LiveStream | null>(null);

/**
 * Calls `onEvent` for every event of `types` (about `queues`, or every queue when null) while the
 * component is shown; `reset` is always passed on. The latest `onEvent` is used, so it may read
 * the component's current state.
 */
export function useLive(types: string[], queues: string[] | null, onEvent: (event: LiveEvent) => void): void {
	const stream = useContext(LiveContext);
	const handler = useRef(onEvent);
	handler.current = onEvent;
	const key = JSON.stringify([types, queues]);
	useEffect(() => stream?.subscribe(queues, types, (event) => handler.current(event)), [stream, key]);
}

export function useLiveStatus(): LiveStatus {
	const stream = useContext(LiveContext);
	const [status, setStatus] = useState<LiveStatus>(stream?.currentStatus ?? 'connecting');
	useEffect(() => {
		if (!stream) return;
		setStatus(stream.currentStatus);
		return stream.onStatus(setStatus);
	}, [stream]);
	return status;
}
