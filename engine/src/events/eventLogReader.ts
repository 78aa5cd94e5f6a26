import type { Logger } from '../log.js';
import type { Pool } from '../db/pool.js';
import type { Notifications } from '../db/notifications.js';
import { readEventsAfter, readLogHead, type LoggedEvent } from './eventLogSql.js';
import { EventPosition } from './eventPosition.js';

export interface ReaderSettings {
	/** A gap (an id jumped over) is read again until it is this old, then given up as rolled back. */
	gapTimeoutMs: number;
	/** Rows per read. */
	pageSize: number;
	/** Reads are at least this far apart: a burst of notifications becomes one read. */
	minReadIntervalMs: number;
	/** A read this often anyway (a notification lost while the listening connection was down). */
	pollIntervalMs: number;
}

/** At start, ids this far below the head that are missing are gaps (transactions still committing). */
const START_GAP_SPAN = 2000;

/**
 * Reads the event log once for this engine, whatever the number of streams: woken by the
 * triggers' notification (delivered at commit), it reads what follows its position — new rows and
 * rows that appeared in its gaps — and hands them, in id order with the position after each, to
 * `onRows`. Runs only while the engine has streams.
 */
export class EventLogReader {
	private position: EventPosition | null = null;
	private running = false;
	private reading: Promise<void> | null = null;
	private again = false;
	private lastReadAt = 0;
	private timer: NodeJS.Timeout | null = null;
	private unlisten: (() => void) | null = null;

	constructor(
		private readonly pool: Pool,
		private readonly notifications: Notifications,
		private readonly settings: ReaderSettings,
		private readonly onRows: (rows: LoggedEvent[], position: EventPosition) => Promise<void>,
		private readonly log: Logger,
	) {}

	/** The position reached: every row up to it was handed over (the SSE id of a computed event). */
	get token(): string {
		return this.position?.toString() ?? '0';
	}

	/** Whether every id `other` has seen was read here too (a stream's replay no longer runs ahead). */
	covers(other: EventPosition): boolean {
		const p = this.position;
		if (!p || p.high < other.high) return false;
		return p.gaps.every((g) => other.sawNoneOf(g.from, g.to));
	}

	async start(): Promise<void> {
		if (this.running) return;
		this.running = true;
		// Listen first: a row committed between the head's read and the LISTEN is still announced.
		this.unlisten = this.notifications.listen('events', () => this.wake());
		const head = await readLogHead(this.pool, START_GAP_SPAN).catch((error: unknown) => {
			// Not started: the next start tries again from the beginning.
			this.stop();
			throw error;
		});
		const now = Date.now();
		const position = EventPosition.at(Math.max(0, head.high - START_GAP_SPAN));
		for (const id of head.recentIds) position.observe(id, now);
		this.position = position;
		this.schedule();
	}

	stop(): void {
		this.running = false;
		this.unlisten?.();
		this.unlisten = null;
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
		this.position = null;
	}

	/** Something was committed: read soon (at most one read in flight; one more after it if woken meanwhile). */
	wake(): void {
		if (!this.running) return;
		if (this.reading) {
			this.again = true;
			return;
		}
		const wait = this.lastReadAt + this.settings.minReadIntervalMs - Date.now();
		if (wait > 0) {
			if (this.timer) clearTimeout(this.timer);
			this.timer = setTimeout(() => this.wake(), wait);
			return;
		}
		this.reading = this.readAll().finally(() => {
			this.reading = null;
			if (this.again) {
				this.again = false;
				this.wake();
			} else this.schedule();
		});
	}

	private async readAll(): Promise<void> {
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
		try {
			for (;;) {
				const position = this.position;
				if (!this.running || !position) return;
				this.lastReadAt = Date.now();
				const dropped = position.expire(this.lastReadAt, this.settings.gapTimeoutMs);
				if (dropped > 0) this.log.debug({ ids: dropped }, 'event ids given up (their transactions rolled back)');
				const rows = await readEventsAfter(this.pool, position.high, position.gaps, this.settings.pageSize);
				if (!this.running || this.position !== position) return;
				if (rows.length > 0) await this.onRows(rows, position);
				if (rows.length < this.settings.pageSize) return;
			}
		} catch (error) {
			this.log.warn({ err: error }, 'reading the event log failed; reading again shortly');
		}
	}

	/** The next read without a notification: soon while gaps are open, else the safety poll. */
	private schedule(): void {
		if (!this.running) return;
		if (this.timer) clearTimeout(this.timer);
		const hasGaps = (this.position?.gaps.length ?? 0) > 0;
		this.timer = setTimeout(() => this.wake(), hasGaps ? Math.min(1000, this.settings.pollIntervalMs) : this.settings.pollIntervalMs);
		this.timer.unref();
	}
}
