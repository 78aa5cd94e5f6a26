import type { QueueHealth, QueueStatsEvent } from '../types';

/** A queue's figures after a `queue.stats` event: the counts it carries replace the loaded ones. */
export function applyStats(q: QueueHealth, stats: QueueStatsEvent): QueueHealth {
	return {
		...q,
		counts: { ...q.counts, ...definedOnly(stats.counts ?? {}) },
		deadLetters: stats.deadLetters ?? q.deadLetters,
		paused: stats.paused ?? q.paused,
		throughputPerMinute: { ...q.throughputPerMinute, ...definedOnly(stats.throughputPerMinute ?? {}) },
	};
}

export function setPaused(q: QueueHealth, paused: boolean): QueueHealth {
	return { ...q, paused };
}

function definedOnly<T extends object>(o: T): Partial<T> {
	return Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean')) as Partial<T>;
}
