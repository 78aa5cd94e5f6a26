import type { ServerResponse } from 'node:http';
import { DomainError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import type { Notifications } from '../db/notifications.js';
import { readEventsAfter, readLogWindow, type LoggedEvent } from './eventLogSql.js';
import { EventLogReader } from './eventLogReader.js';
import type { EventPosition } from './eventPosition.js';
import { EventStream, frame, type Frame } from './eventStream.js';
import { EventType, type EventFilter } from './eventTypes.js';
import { readBatchViews, readQueueStats } from './liveFigures.js';

/** How the live event stream behaves (docs/architecture.md, "Live events"). Tests shorten the intervals. */
export interface EventStreamSettings {
	/** A comment ping this often on every stream. */
	pingIntervalMs: number;
	/** `queue.stats` this often. */
	statsIntervalMs: number;
	/** `batch.progress` at most this often per batch. */
	batchIntervalMs: number;
	/** Bytes a client may fall behind before its stream overflows. */
	maxBufferBytes: number;
	/** How far back `Last-Event-ID` may resume (the log is trimmed beyond it). */
	windowSeconds: number;
	/** How long a gap in the ids is read again before it is given up (longer than any event-writing transaction takes to commit). */
	gapTimeoutMs: number;
	/** Reads of the log at least this far apart (notifications within it share one read). */
	minReadIntervalMs: number;
}

export const DEFAULT_EVENT_STREAM_SETTINGS: EventStreamSettings = {
	pingIntervalMs: 15_000,
	statsIntervalMs: 2_000,
	batchIntervalMs: 1_000,
	maxBufferBytes: 1024 * 1024,
	windowSeconds: 300,
	gapTimeoutMs: 10_000,
	minReadIntervalMs: 10,
};

const PAGE_SIZE = 1000;
const SAFETY_POLL_MS = 2_000;

export interface EventHubDeps {
	pool: Pool;
	notifications: Notifications;
	settings: EventStreamSettings;
	/** A task as `GET /v1/tasks/{id}` shows it (with its attempts), for `task.dead_lettered`; null when gone. */
	loadTask: (id: string) => Promise<unknown>;
	/** Grace after a timeout before an active task counts as stuck (the health figures need it). */
	stuckGraceSeconds: number;
	log: Logger;
}

/**
 * This engine's live events: one reader of the event log for all its streams, the computed
 * figures (`queue.stats`, `batch.progress`) while someone wants them, pings, and the fan-out. Each
 * event is serialised once and written to each stream that wants it, one write per stream per read.
 * Idle (no reader, no timers, no LISTEN) while the engine has no stream.
 */
export class EventHub {
	private readonly streams = new Set<EventStream>();
	private readonly reader: EventLogReader;
	private starting: Promise<void> | null = null;
	private timers: NodeJS.Timeout[] = [];
	private statsRunning = false;
	/** Batches whose tasks moved since their last `batch.progress`, and when each was last sent. */
	private readonly dirtyBatches = new Set<string>();
	private readonly batchSentAt = new Map<string, number>();
	private batchTimer: NodeJS.Timeout | null = null;

	constructor(private readonly deps: EventHubDeps) {
		const { pool, notifications, settings, log } = deps;
		this.reader = new EventLogReader(
			pool,
			notifications,
			{ gapTimeoutMs: settings.gapTimeoutMs, pageSize: PAGE_SIZE, minReadIntervalMs: settings.minReadIntervalMs, pollIntervalMs: SAFETY_POLL_MS },
			(rows, position) => this.publish(rows, position),
			log,
		);
		notifications.onReconnect(() => this.reader.wake());
	}

	get streamCount(): number {
		return this.streams.size;
	}

	/**
	 * Registers a stream on `res` and makes sure the event log is being read, before anything is sent:
	 * an event committed once the client sees the stream's headers is then after the reader's starting
	 * position, so it reaches the stream. Live events are held from here until `serve` has replayed
	 * the resume. Throws (a 503, nothing sent) when the log cannot be read. `keyStillValid` is asked at
	 * each ping: a stream whose key was revoked since it opened ends then (its client's reconnect is a 401).
	 */
	async register(res: ServerResponse, filter: EventFilter, keyStillValid: (() => Promise<boolean>) | null = null): Promise<EventStream> {
		const stream = new EventStream(res, filter, this.deps.settings.maxBufferBytes, (s) => this.remove(s), keyStillValid);
		this.streams.add(stream);
		try {
			await this.ensureStarted();
		} catch (error) {
			this.deps.log.warn({ err: error }, 'an event stream could not start');
			this.remove(stream);
			throw new DomainError(503, 'unavailable', 'The event log cannot be read: the database does not answer; try again shortly');
		}
		return stream;
	}

	/**
	 * Serves a registered stream until the client leaves: the headers, then the resume replayed from
	 * the log (or `event: reset` when `resumeFrom` is outside the window), then live; a stream that
	 * did not resume is sent its starting position.
	 */
	async serve(stream: EventStream, resumeFrom: EventPosition | null): Promise<void> {
		if (!stream.closed) stream.begin();
		try {
			if (resumeFrom !== null && !stream.closed) await this.resume(stream, resumeFrom);
		} catch (error) {
			this.deps.log.warn({ err: error }, 'an event stream could not resume');
			stream.end();
			return;
		}
		// The client left while the stream was starting: if it was the last, nothing should keep running.
		if (stream.closed) {
			if (this.streams.size === 0) this.goIdle();
			return;
		}
		stream.goLive();
		if (resumeFrom === null) stream.position(this.reader.token);
	}

	/** Ends every stream (the server is closing) and goes idle. */
	closeAll(): void {
		for (const stream of [...this.streams]) stream.end();
		this.goIdle();
	}

	private async ensureStarted(): Promise<void> {
		if (this.timers.length === 0) {
			const { pingIntervalMs, statsIntervalMs } = this.deps.settings;
			this.timers.push(setInterval(() => this.ping(), pingIntervalMs), setInterval(() => void this.sendQueueStats(), statsIntervalMs));
			for (const timer of this.timers) timer.unref();
		}
		this.starting ??= this.reader.start().catch((error: unknown) => {
			this.starting = null;
			throw error;
		});
		await this.starting;
	}

	private remove(stream: EventStream): void {
		this.streams.delete(stream);
		if (this.streams.size === 0) this.goIdle();
	}

	private goIdle(): void {
		for (const timer of this.timers) clearInterval(timer);
		this.timers = [];
		if (this.batchTimer) clearTimeout(this.batchTimer);
		this.batchTimer = null;
		this.dirtyBatches.clear();
		this.batchSentAt.clear();
		this.reader.stop();
		this.starting = null;
	}

	/**
	 * Replays what `from` has not seen, page by page at the client's pace, or says `reset` when the
	 * log no longer holds it (trimmed, or a position this database never wrote).
	 */
	private async resume(stream: EventStream, from: EventPosition): Promise<void> {
		const window = await readLogWindow(this.deps.pool);
		if (from.lowestOpen - 1 < window.trimmedThrough || from.high > window.lastTaken) {
			const reason = from.high > window.lastTaken ? 'Last-Event-ID is not a position of this event log' : `Last-Event-ID is older than the resume window (${this.deps.settings.windowSeconds} s)`;
			stream.reset(this.reader.token, reason);
			return;
		}
		const position = from.clone();
		for (;;) {
			const rows = await readEventsAfter(this.deps.pool, position.high, position.gaps, PAGE_SIZE);
			stream.replay(await this.framesOf(rows, position, (type, queue) => stream.wants(type, queue)));
			await stream.drained();
			if (rows.length < PAGE_SIZE || stream.closed) break;
		}
		// What the replay sent is not sent again live: neither the events the reader published while
		// the replay ran (held until goLive) nor those it has yet to read (the replay may be ahead of it).
		stream.seenAhead = position;
	}

	/** New rows of the log, read once for every stream. */
	private async publish(rows: LoggedEvent[], position: EventPosition): Promise<void> {
		const anyWants = (type: EventType, queue: string) => [...this.streams].some((s) => s.wants(type, queue));
		const frames = await this.framesOf(rows, position, anyWants);
		for (const stream of this.streams) {
			stream.deliver(frames);
			// Kept while the stream starts: the events it holds are checked against it at goLive.
			if (stream.live && stream.seenAhead && this.reader.covers(stream.seenAhead)) stream.seenAhead = null;
		}
		for (const row of rows) if (row.batchId !== null && anyWants(EventType.batchProgress, row.queue)) this.dirtyBatches.add(row.batchId);
		if (this.dirtyBatches.size > 0) this.scheduleBatchProgress(0);
	}

	/**
	 * Frames of log rows, each with the position after it (rows `position` saw before are skipped).
	 * A dead letter's task is loaded only when some stream wants it.
	 */
	private async framesOf(rows: LoggedEvent[], position: EventPosition, wanted: (type: EventType, queue: string) => boolean): Promise<Frame[]> {
		const deadLetters = rows.filter((r) => r.kind === 'dead_lettered' && !position.has(r.id) && wanted(EventType.taskDeadLettered, r.queue));
		const tasks = new Map(await Promise.all(deadLetters.map(async (r) => [r.id, await this.deps.loadTask(r.taskId)] as const)));
		const frames: Frame[] = [];
		const now = Date.now();
		for (const row of rows) {
			if (!position.observe(row.id, now)) continue;
			const id = position.toString();
			if (row.kind === 'state') {
				const data = { id: row.taskId, queue: row.queue, name: row.name, state: row.state, attempt: row.attempt, at: row.at.toISOString() };
				frames.push(frame(EventType.taskState, row.queue, row.id, id, data));
			} else {
				const task = tasks.get(row.id);
				// A task deleted since (queue deleted, retention) has nothing left to show.
				if (task) frames.push(frame(EventType.taskDeadLettered, row.queue, row.id, id, { task }));
			}
		}
		return frames;
	}

	private ping(): void {
		for (const stream of this.streams) {
			stream.ping();
			void this.checkKey(stream);
		}
	}

	/** Ends a stream whose API key is no longer accepted. A key set that cannot be read (database away) ends nothing. */
	private async checkKey(stream: EventStream): Promise<void> {
		if (stream.keyStillValid === null) return;
		try {
			if (!(await stream.keyStillValid())) stream.end('the API key is no longer valid');
		} catch {
			// The next ping asks again.
		}
	}

	/** `queue.stats` for the queues some stream wants (every queue when one wants all), one event each. */
	private async sendQueueStats(): Promise<void> {
		const wanting = [...this.streams].filter((s) => s.live && s.filter.types.has(EventType.queueStats));
		if (wanting.length === 0 || this.statsRunning) return;
		this.statsRunning = true;
		try {
			const all = wanting.some((s) => s.filter.queues === null);
			const queues = all ? null : [...new Set(wanting.flatMap((s) => [...(s.filter.queues ?? [])]))];
			const stats = await readQueueStats(this.deps.pool, queues, this.deps.stuckGraceSeconds);
			const id = this.reader.token;
			const frames = stats.map((s) => frame(EventType.queueStats, s.queue, null, id, s));
			for (const stream of wanting) stream.deliver(frames);
		} catch (error) {
			this.deps.log.warn({ err: error }, 'queue.stats could not be read');
		} finally {
			this.statsRunning = false;
		}
	}

	private scheduleBatchProgress(delayMs: number): void {
		if (this.batchTimer || this.streams.size === 0) return;
		this.batchTimer = setTimeout(() => {
			this.batchTimer = null;
			void this.sendBatchProgress();
		}, delayMs);
		this.batchTimer.unref();
	}

	/** `batch.progress` of the batches that moved, each at most once per `batchIntervalMs`. */
	private async sendBatchProgress(): Promise<void> {
		const now = Date.now();
		const interval = this.deps.settings.batchIntervalMs;
		const due = [...this.dirtyBatches].filter((id) => now - (this.batchSentAt.get(id) ?? 0) >= interval);
		for (const id of due) {
			this.dirtyBatches.delete(id);
			this.batchSentAt.set(id, now);
		}
		for (const [id, at] of this.batchSentAt) if (now - at > interval && !this.dirtyBatches.has(id)) this.batchSentAt.delete(id);
		try {
			const batches = await readBatchViews(this.deps.pool, due);
			const id = this.reader.token;
			const frames = batches.map((b) => frame(EventType.batchProgress, b.queue, null, id, b));
			for (const stream of this.streams) stream.deliver(frames);
		} catch (error) {
			this.deps.log.warn({ err: error }, 'batch.progress could not be read');
		}
		if (this.dirtyBatches.size > 0) {
			const next = Math.min(...[...this.dirtyBatches].map((id) => (this.batchSentAt.get(id) ?? 0) + interval));
			this.scheduleBatchProgress(Math.max(0, next - Date.now()));
		}
	}
}
