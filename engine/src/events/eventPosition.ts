/**
 * A position in the event log: every id up to `high` has been seen except the open gaps.
 *
 * Event ids come from a sequence and are taken before their transaction commits, so id 11 can
 * become readable before id 10 (still committing) — or id 10 may never exist (rolled back). A
 * reader that only asked for `id > last` would skip such a late event for good. So a reader keeps
 * the ids it jumped over as gaps, asks for them again with every read, and gives a gap up once it is
 * older than any transaction that writes events can take to commit (then it was rolled back).
 *
 * The position is also the stream's resume token (the SSE `id`, sent back as `Last-Event-ID`):
 * `"1234"`, or `"1234~1200-1201,1210"` while gaps are open, so a stream resumed on any engine
 * replays exactly what its client has not seen. Pure and synchronous: tested on its own.
 */

export interface IdRange {
	from: number;
	to: number;
}

interface Gap extends IdRange {
	/** When the gap was opened (ms, this process's clock): it is given up `gapTimeoutMs` later. */
	openedAt: number;
}

/** Gaps written into a resume token at most; past that the token falls back to a lower `high` (repeats, never losses). */
export const MAX_TOKEN_GAPS = 32;
const TOKEN = /^(\d{1,15})(?:~(\d{1,15}(?:-\d{1,15})?(?:,\d{1,15}(?:-\d{1,15})?)*))?$/;

export class EventPosition {
	private constructor(
		private highId: number,
		private gapList: Gap[],
	) {}

	/** A position that has seen every id up to `high`, with `missing` still open (opened at `now`). */
	static at(high: number, missing: readonly IdRange[] = [], now = 0): EventPosition {
		return new EventPosition(high, missing.map((r) => ({ ...r, openedAt: now })));
	}

	/**
	 * Reads a resume token; null when it is not one this engine writes (malformed, gaps out of order,
	 * above `high`, or too many of them).
	 */
	static parse(token: string, now = 0): EventPosition | null {
		const match = TOKEN.exec(token);
		if (!match) return null;
		const high = Number(match[1]);
		const gaps: Gap[] = [];
		for (const part of match[2]?.split(',') ?? []) {
			const [from, to = from] = part.split('-').map(Number);
			const previous = gaps[gaps.length - 1];
			if (from < 1 || to < from || to >= high || (previous && from <= previous.to)) return null;
			gaps.push({ from, to, openedAt: now });
		}
		if (gaps.length > MAX_TOKEN_GAPS) return null;
		return new EventPosition(high, gaps);
	}

	get high(): number {
		return this.highId;
	}

	get gaps(): readonly IdRange[] {
		return this.gapList;
	}

	/** The lowest id not seen yet: everything below it has been seen (or given up). */
	get lowestOpen(): number {
		return this.gapList.length > 0 ? this.gapList[0].from : this.highId + 1;
	}

	/** Whether `id` was seen (or given up). */
	has(id: number): boolean {
		if (id > this.highId) return false;
		return !this.gapList.some((g) => id >= g.from && id <= g.to);
	}

	/** Whether no id of `from`–`to` (up to `high`) was seen: the range lies inside the gaps or above `high`. */
	sawNoneOf(from: number, to: number): boolean {
		let next = from;
		const last = Math.min(to, this.highId);
		for (const g of this.gapList) {
			if (next > last) break;
			if (g.to < next) continue;
			if (g.from > next) return false;
			next = g.to + 1;
		}
		return next > last;
	}

	/**
	 * Records an id as seen. Returns false when it was seen before (a repeat to skip). Ids jumped over
	 * become gaps opened at `now`.
	 */
	observe(id: number, now: number): boolean {
		if (id > this.highId) {
			if (id > this.highId + 1) this.gapList.push({ from: this.highId + 1, to: id - 1, openedAt: now });
			this.highId = id;
			return true;
		}
		const index = this.gapList.findIndex((g) => id >= g.from && id <= g.to);
		if (index < 0) return false;
		const gap = this.gapList[index];
		const pieces: Gap[] = [];
		if (gap.from < id) pieces.push({ from: gap.from, to: id - 1, openedAt: gap.openedAt });
		if (id < gap.to) pieces.push({ from: id + 1, to: gap.to, openedAt: gap.openedAt });
		this.gapList.splice(index, 1, ...pieces);
		return true;
	}

	/** Gives up gaps opened before `now - maxAgeMs` (their transactions rolled back); returns how many ids. */
	expire(now: number, maxAgeMs: number): number {
		let dropped = 0;
		this.gapList = this.gapList.filter((g) => {
			const keep = now - g.openedAt < maxAgeMs;
			if (!keep) dropped += g.to - g.from + 1;
			return keep;
		});
		return dropped;
	}

	clone(): EventPosition {
		return new EventPosition(this.highId, this.gapList.map((g) => ({ ...g })));
	}

	/**
	 * The resume token. With more gaps than a token carries, the token starts below the lowest gap
	 * instead: a stream resumed from it repeats some events rather than missing one.
	 */
	toString(): string {
		if (this.gapList.length === 0) return String(this.highId);
		if (this.gapList.length > MAX_TOKEN_GAPS) return String(this.gapList[0].from - 1);
		return `${this.highId}~${this.gapList.map((g) => (g.from === g.to ? String(g.from) : `${g.from}-${g.to}`)).join(',')}`;
	}
}
