import { randomUUID } from 'node:crypto';
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { notify } from '../db/notifications.js';
import type { DispatchQueue } from '../dispatch/dispatchQueue.js';
import { generateSecret } from '../delivery/signature.js';
import { checkTargetUrl } from '../delivery/targetUrl.js';
import type { TargetPolicy } from '../delivery/targetPolicy.js';
import { conflict, DomainError, notFound } from '../errors.js';
import type { PartialRetryPolicy, PriorityName } from '../tasks/policy.js';
import { priorityValue } from '../tasks/policy.js';
import { wakeAllKeys } from '../flowControl/keySql.js';
import * as handlerSql from './handlerSql.js';
import type { HandlerEvent, HandlerMode, HandlerRow } from './handlerSql.js';
import * as queueSql from './queueSql.js';
import type { QueueRow, QueueValues } from './queueSql.js';
import type { HandlerView, QueueView } from '../api/schemas/queue.js';

/** How long a rotated-out queue secret keeps signing alongside the new one. */
const SECRET_ROTATION_GRACE_SECONDS = 24 * 3600;

export interface QueueInput {
	retry?: PartialRetryPolicy;
	timeoutSeconds?: number | null;
	asyncTimeoutSeconds?: number | null;
	priority?: PriorityName | number | null;
	concurrency?: number;
	rateLimit?: { max: number; periodSeconds: number } | null;
	keyConcurrency?: number | null;
	keyRateLimit?: { max: number; periodSeconds: number } | null;
	paused?: boolean;
}

/** The queue as the API shows it (api/schemas/queue.ts). */
export function presentQueue(q: QueueRow): QueueView {
	return {
		name: q.name,
		retry: q.retry,
		timeoutSeconds: q.timeoutSeconds,
		asyncTimeoutSeconds: q.asyncTimeoutSeconds,
		priority: q.priority,
		concurrency: q.concurrency,
		rateLimit: q.rateLimitMax !== null ? { max: q.rateLimitMax, periodSeconds: q.rateLimitPeriodSeconds ?? 1 } : null,
		keyConcurrency: q.keyConcurrency,
		keyRateLimit: q.keyRateLimitMax !== null ? { max: q.keyRateLimitMax, periodSeconds: q.keyRateLimitPeriodSeconds ?? 1 } : null,
		paused: q.paused,
		secret: q.secret,
		createdAt: q.createdAt.toISOString(),
		updatedAt: q.updatedAt.toISOString(),
	};
}

export function presentHandler(h: HandlerRow): HandlerView {
	return {
		id: h.id,
		queue: h.queue,
		url: h.url,
		events: h.events,
		mode: h.mode,
		confirm: h.confirm,
		secret: h.secret,
		healthy: h.healthy,
		createdAt: h.createdAt.toISOString(),
	};
}

function mergeValues(base: QueueValues, input: QueueInput): QueueValues {
	const retry = { ...base.retry, ...input.retry };
	return {
		retry,
		timeoutSeconds: input.timeoutSeconds !== undefined ? input.timeoutSeconds : base.timeoutSeconds,
		asyncTimeoutSeconds: input.asyncTimeoutSeconds !== undefined ? input.asyncTimeoutSeconds : base.asyncTimeoutSeconds,
		priority: input.priority !== undefined ? (priorityValue(input.priority) ?? null) : base.priority,
		concurrency: input.concurrency ?? base.concurrency,
		rateLimitMax: input.rateLimit !== undefined ? (input.rateLimit?.max ?? null) : base.rateLimitMax,
		rateLimitPeriodSeconds: input.rateLimit !== undefined ? (input.rateLimit?.periodSeconds ?? null) : base.rateLimitPeriodSeconds,
		keyConcurrency: input.keyConcurrency !== undefined ? input.keyConcurrency : base.keyConcurrency,
		keyRateLimitMax: input.keyRateLimit !== undefined ? (input.keyRateLimit?.max ?? null) : base.keyRateLimitMax,
		keyRateLimitPeriodSeconds: input.keyRateLimit !== undefined ? (input.keyRateLimit?.periodSeconds ?? null) : base.keyRateLimitPeriodSeconds,
		paused: input.paused ?? base.paused,
	};
}

const EMPTY: QueueValues = {
	retry: {},
	timeoutSeconds: null,
	asyncTimeoutSeconds: null,
	priority: null,
	concurrency: 10,
	rateLimitMax: null,
	rateLimitPeriodSeconds: null,
	keyConcurrency: null,
	keyRateLimitMax: null,
	keyRateLimitPeriodSeconds: null,
	paused: false,
};

function checkRetryConsistency(v: QueueValues): void {
	const { delaySeconds, maxDelaySeconds } = v.retry;
	if (delaySeconds !== undefined && maxDelaySeconds !== undefined && maxDelaySeconds < delaySeconds) {
		throw new DomainError(400, 'invalid_request', 'retry.maxDelaySeconds must not be below retry.delaySeconds', [
			{ field: 'retry.maxDelaySeconds', message: 'retry.maxDelaySeconds must not be below retry.delaySeconds' },
		]);
	}
}

/** Queues and their handlers: the CRUD behind /v1/queues. Every change is announced to all engines. */
export class QueueService {
	constructor(
		private readonly pool: Pool,
		private readonly dispatch: DispatchQueue,
		private readonly schema: string,
		private readonly targetPolicy: TargetPolicy,
	) {}

	async create(name: string, input: QueueInput): Promise<QueueRow> {
		const values = mergeValues(EMPTY, input);
		checkRetryConsistency(values);
		await this.dispatch.createQueue(name);
		const row = await withTransaction(this.pool, async (tx) => {
			const inserted = await queueSql.insertQueue(tx, name, values, generateSecret());
			if (inserted) await notify(tx, this.schema, 'queues', name);
			return inserted;
		});
		if (!row) throw conflict('queue_exists', `Queue "${name}" already exists`, [{ field: 'name', message: `name "${name}" is taken` }]);
		return row;
	}

	/** The queue, created with defaults when `autoCreate` allows it (enqueue to an unknown queue). */
	async ensure(name: string): Promise<QueueRow> {
		const existing = await queueSql.getQueue(this.pool, name);
		if (existing) return existing;
		try {
			return await this.create(name, {});
		} catch (error) {
			if (error instanceof DomainError && error.code === 'queue_exists') return this.get(name);
			throw error;
		}
	}

	async get(name: string): Promise<QueueRow> {
		const row = await queueSql.getQueue(this.pool, name);
		if (!row) throw notFound('Queue', name);
		return row;
	}

	async list(after: string | null, limit: number): Promise<{ items: QueueRow[]; next: string | null }> {
		const rows = await queueSql.listQueues(this.pool, after, limit + 1);
		const items = rows.slice(0, limit);
		return { items, next: rows.length > limit ? items[items.length - 1].name : null };
	}

	async update(name: string, input: QueueInput): Promise<QueueRow> {
		return withTransaction(this.pool, async (tx) => {
			const current = await queueSql.getQueue(tx, name, true);
			if (!current) throw notFound('Queue', name);
			const values = mergeValues(current, input);
			checkRetryConsistency(values);
			const row = await queueSql.updateQueue(tx, name, values);
			// New per-key limits: every key waiting behind the old ones is looked at again at once.
			if (values.keyConcurrency !== current.keyConcurrency || values.keyRateLimitMax !== current.keyRateLimitMax || values.keyRateLimitPeriodSeconds !== current.keyRateLimitPeriodSeconds) {
				await wakeAllKeys(tx, this.schema, name);
			}
			await notify(tx, this.schema, 'queues', name);
			return row as QueueRow;
		});
	}

	async setPaused(name: string, paused: boolean): Promise<QueueRow> {
		return withTransaction(this.pool, async (tx) => {
			const row = await queueSql.setQueuePaused(tx, name, paused);
			if (!row) throw notFound('Queue', name);
			await notify(tx, this.schema, 'queues', name);
			return row;
		});
	}

	async rotateSecret(name: string): Promise<QueueRow> {
		return withTransaction(this.pool, async (tx) => {
			const row = await queueSql.rotateQueueSecret(tx, name, generateSecret(), SECRET_ROTATION_GRACE_SECONDS);
			if (!row) throw notFound('Queue', name);
			// Every engine (this one too) reloads the queue and signs with both secrets from now on.
			await notify(tx, this.schema, 'queues', name);
			return row;
		});
	}

	/** Deletes a queue; one with unfinished tasks only with `force` (its tasks are deleted too). */
	async delete(name: string, force: boolean): Promise<void> {
		await withTransaction(this.pool, async (tx) => {
			const row = await queueSql.getQueue(tx, name, true);
			if (!row) throw notFound('Queue', name);
			const unfinished = await queueSql.countUnfinishedTasks(tx, name);
			if (unfinished > 0 && !force) {
				throw conflict('queue_not_empty', `Queue "${name}" has ${unfinished} unfinished tasks; delete with ?force=true to drop them`);
			}
			await queueSql.deleteQueue(tx, name);
			await notify(tx, this.schema, 'queues', name);
		});
		await this.dispatch.deleteQueue(name);
	}

	async addHandler(
		queue: string,
		input: { url: string; events?: HandlerEvent[]; mode?: HandlerMode; confirm?: boolean },
	): Promise<{ handler: HandlerRow; created: boolean }> {
		const url = checkTargetUrl(input.url, 'url', this.targetPolicy);
		return withTransaction(this.pool, async (tx) => {
			if (!(await queueSql.getQueue(tx, queue))) throw notFound('Queue', queue);
			const result = await handlerSql.upsertHandler(tx, {
				id: randomUUID(),
				queue,
				url,
				events: [...new Set<HandlerEvent>(input.events ?? ['task'])],
				mode: input.mode ?? 'production',
				secret: generateSecret(),
				confirm: input.confirm ?? false,
			});
			await notify(tx, this.schema, 'queues', queue);
			return result;
		});
	}

	async listHandlers(queue: string): Promise<HandlerRow[]> {
		await this.get(queue);
		return handlerSql.listHandlers(this.pool, queue);
	}

	async getHandler(queue: string, id: string): Promise<HandlerRow> {
		const handler = await handlerSql.getHandler(this.pool, queue, id);
		if (!handler) throw notFound('Handler', id);
		return handler;
	}

	async removeHandler(queue: string, id: string): Promise<void> {
		await withTransaction(this.pool, async (tx) => {
			if (!(await handlerSql.deleteHandler(tx, queue, id))) throw notFound('Handler', id);
			await notify(tx, this.schema, 'queues', queue);
		});
	}
}
