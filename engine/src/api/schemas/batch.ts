import { Type, type Static } from 'typebox';
import { BATCH_STATES } from '../../batches/batchSql.js';
import { Nullable } from './common.js';

/**
 * The batch as the API shows it. presentBatch (batches/batchView.ts) is typed by this schema, so a
 * field the presenter sends and the schema does not name (or the reverse) fails to compile.
 */
export const Batch = Type.Object({
	id: Type.String(),
	queue: Type.String(),
	name: Type.String(),
	state: Type.Enum(BATCH_STATES),
	totalItems: Type.Integer(),
	totalChunks: Type.Integer(),
	items: Type.Object({ processed: Type.Integer(), failed: Type.Integer() }),
	chunks: Type.Object({ completed: Type.Integer(), failed: Type.Integer(), active: Type.Integer(), pending: Type.Integer(), cancelled: Type.Integer() }),
	chunkSize: Type.Integer(),
	concurrency: Type.Integer(),
	delayBetweenChunksSeconds: Type.Number(),
	url: Nullable(Type.String()),
	callbackUrl: Nullable(Type.String()),
	runs: Type.Integer({ description: 'How many times the batch finished (the first run, then each retry-failed run)' }),
	createdAt: Type.String(),
	startedAt: Nullable(Type.String()),
	finishedAt: Nullable(Type.String()),
	throughputPerSecond: Nullable(Type.Number()),
	etaSeconds: Nullable(Type.Integer()),
});

export type BatchView = Static<typeof Batch>;
