/** One item waiting in a group commit, and how to answer whoever added it. */
export interface Waiting<T, R> {
	item: T;
	resolve(result: R): void;
	reject(error: unknown): void;
}

export interface GroupCommitOptions<T, R> {
	/** Groups written at the same time. */
	maxParallel: number;
	/** Items per group at most. */
	maxGroup: number;
	/**
	 * Writes one group and answers every item of it (resolve or reject), or hands items back with
	 * `requeue` (and then does not throw). A throw rejects the items it left unanswered.
	 */
	write(group: Waiting<T, R>[]): Promise<void>;
	/**
	 * Asked once before each group starts, with the number of items waiting: a promise holds the
	 * group back until it settles (items added meanwhile join the group); null starts it now. It
	 * should settle within milliseconds.
	 */
	gate?(waiting: number): Promise<void> | null;
}

/**
 * Group commit: items that arrive while a write is in flight are written together in the next
 * one, so a thousand writes a second cost tens of transactions, not thousands. `add` resolves once
 * the item is durable. The two writers of the hot path share it: enqueues (tasks/enqueue.ts) and
 * delivery results (delivery/settlement.ts); each decides what a failed group means.
 */
export class GroupCommit<T, R> {
	private waiting: Waiting<T, R>[] = [];
	private writing = 0;
	/** While set, no new group starts (a writer backing off from an unreachable database). */
	private held = false;
	private flushScheduled = false;
	/** A gate is holding the next group back. */
	private gated = false;
	/** The next group has been through its gate. */
	private gatePassed = false;

	constructor(private readonly options: GroupCommitOptions<T, R>) {}

	/** A group is being written now. */
	get busy(): boolean {
		return this.writing > 0;
	}

	/** Items not yet taken into a group. */
	get backlog(): number {
		return this.waiting.length;
	}

	add(item: T): Promise<R> {
		return new Promise<R>((resolve, reject) => {
			this.waiting.push({ item, resolve, reject });
			// Not at once: items added by the same turn of the event loop (several answers read in one
			// poll, a cohort let go together) then start one group, not one group for the first.
			if (!this.flushScheduled) {
				this.flushScheduled = true;
				setImmediate(() => {
					this.flushScheduled = false;
					this.flush();
				});
			}
		});
	}

	/** Puts items of a group back in front of the line, to be written again before anything newer. */
	requeue(items: Waiting<T, R>[]): void {
		this.waiting.unshift(...items);
	}

	/** Stops starting groups until `resume` (writes in flight go on). */
	hold(): void {
		this.held = true;
	}

	resume(): void {
		this.held = false;
		this.flush();
	}

	/** Takes every waiting item out of the line (the caller answers them). */
	drain(): Waiting<T, R>[] {
		return this.waiting.splice(0);
	}

	private flush(): void {
		while (!this.held && !this.gated && this.writing < this.options.maxParallel && this.waiting.length > 0) {
			const gate = this.gatePassed ? null : (this.options.gate?.(this.waiting.length) ?? null);
			if (gate) {
				this.gated = true;
				// After the items whose arrival settled the gate were added (they add in the same turn).
				void gate.finally(() =>
					setImmediate(() => {
						this.gated = false;
						this.gatePassed = true;
						this.flush();
					}),
				);
				return;
			}
			this.gatePassed = false;
			const group = this.waiting.splice(0, this.options.maxGroup);
			this.writing += 1;
			this.options
				.write(group)
				.catch((error: unknown) => {
					for (const w of group) w.reject(error);
				})
				.finally(() => {
					this.writing -= 1;
					this.flush();
				});
		}
	}
}
