/**
 * The queues this engine knows to hold nothing due: its last claim of the queue drained what was
 * due (ClaimResult.drained), and nothing has woken the queue since that claim began — no enqueue
 * here, no notification from another engine, no change to the queue, no slot freed at the engine's
 * own limit. Settlement uses it (settlement.ts, `lockFree`): completions in a quiet queue have
 * nothing to refill, so they are written without the queue's dispatch lock, and a task enqueued
 * meanwhile is claimed at once instead of after the settlement's commit.
 *
 * Being wrong one way is harmless: a queue taken for busy only costs a refill that finds nothing.
 * The other way cannot happen: whatever was due when the claim began, it claimed or saw (drained),
 * and whatever became due since came with a wake-up, which ends the quiet.
 */
export class QuietQueues {
	/** Wake-ups per queue: a claim remembers the count it began at. */
	private readonly news = new Map<string, number>();
	/** Wake-ups of every queue at once. */
	private newsForAll = 0;
	/** The wake-up count at which a claim that drained the queue began. */
	private readonly drainedAt = new Map<string, number>();

	/** Something may be due in `queue`. */
	heard(queue: string): void {
		this.news.set(queue, (this.news.get(queue) ?? 0) + 1);
	}

	/** Something may be due in any queue (a slot freed at the engine's own limit). */
	heardAll(): void {
		this.newsForAll += 1;
	}

	/** Taken as a claim of `queue` begins: what it will have seen (both counts only grow, so their sum does). */
	mark(queue: string): number {
		return (this.news.get(queue) ?? 0) + this.newsForAll;
	}

	/** The claim that began at `mark` is over (committed); whether it drained the queue. */
	claimed(queue: string, mark: number, drained: boolean): void {
		if (drained) this.drainedAt.set(queue, mark);
		else this.drainedAt.delete(queue);
	}

	quiet(queue: string): boolean {
		const at = this.drainedAt.get(queue);
		return at !== undefined && at === this.mark(queue);
	}
}
