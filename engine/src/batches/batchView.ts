import type { BatchView } from '../api/schemas/batch.js';
import type { BatchRow } from './batchSql.js';

const FINISHED = new Set(['completed', 'completed_with_failures', 'failed']);

/**
 * The batch as the API shows it and its completion callback carries, from counters
 * only. Throughput is items finished (processed + failed) per second since the start; the ETA is
 * what is left at that pace, 0 once finished, null while nothing can be estimated.
 */
export function presentBatch(b: BatchRow): BatchView {
	const done = b.itemsProcessed + b.itemsFailed;
	const throughput = b.elapsedSeconds !== null && b.elapsedSeconds > 0 ? done / b.elapsedSeconds : null;
	let eta: number | null = null;
	if (FINISHED.has(b.state)) eta = 0;
	else if (b.state === 'running' && throughput !== null && throughput > 0) eta = Math.ceil((b.totalItems - done) / throughput);
	return {
		id: b.id,
		queue: b.queue,
		name: b.name,
		state: b.state,
		totalItems: b.totalItems,
		totalChunks: b.totalChunks,
		items: { processed: b.itemsProcessed, failed: b.itemsFailed },
		chunks: { completed: b.chunksCompleted, failed: b.chunksFailed, active: b.chunksActive, pending: b.chunksPending, cancelled: b.chunksCancelled },
		chunkSize: b.chunkSize,
		concurrency: b.concurrency,
		delayBetweenChunksSeconds: b.delayBetweenChunksSeconds,
		url: b.url,
		callbackUrl: b.callbackUrl,
		runs: b.runs,
		createdAt: b.createdAt.toISOString(),
		startedAt: b.startedAt?.toISOString() ?? null,
		finishedAt: b.finishedAt?.toISOString() ?? null,
		throughputPerSecond: throughput === null ? null : Math.round(throughput * 100) / 100,
		etaSeconds: eta,
	};
}

export type { BatchView };
