import { invalidField } from '../errors.js';

/**
 * The event types of `GET /v1/events` (docs/architecture.md, "Live events"). Task events come from the event log and are
 * replayed on resume; the other two are figures the serving engine computes while someone listens,
 * never replayed.
 */
export const EventType = {
	/** Every visible state change of every task: `{ id, queue, name, state, attempt, at }`. Logged. */
	taskState: 'task.state',
	/** A batch's counters (the shape of `GET /v1/batches/{id}`), at most once a second per batch. Not logged. */
	batchProgress: 'batch.progress',
	/** Per queue every 2 s: counts by state and throughput. Not logged. */
	queueStats: 'queue.stats',
	/** A task became `failed`: `{ task: <task JSON with attempts> }`. Logged. */
	taskDeadLettered: 'task.dead_lettered',
} as const;

export type EventType = (typeof EventType)[keyof typeof EventType];
export const EVENT_TYPES: readonly EventType[] = Object.values(EventType);

/** What one stream asked for: queues (null: all) and types. */
export interface EventFilter {
	queues: ReadonlySet<string> | null;
	types: ReadonlySet<EventType>;
}

/** The `types` parameter: comma-separated names (all types when absent); a 400 naming it otherwise. */
export function parseTypes(text: string | undefined): Set<EventType> {
	if (text === undefined) return new Set(EVENT_TYPES);
	const field = 'querystring.types';
	const names = text.split(',').map((name) => name.trim());
	const types = new Set<EventType>();
	for (const name of names) {
		if (name === '') throw invalidField(field, 'has an empty entry; give comma-separated event types');
		if (!(EVENT_TYPES as readonly string[]).includes(name)) {
			throw invalidField(field, `has "${name}", which is not an event type; use ${EVENT_TYPES.join(', ')}`);
		}
		types.add(name as EventType);
	}
	return types;
}

export function eventFilter(query: { queue?: string[]; types?: string }): EventFilter {
	return { queues: query.queue && query.queue.length > 0 ? new Set(query.queue) : null, types: parseTypes(query.types) };
}

export function accepts(filter: EventFilter, type: EventType, queue: string): boolean {
	return filter.types.has(type) && (filter.queues === null || filter.queues.has(queue));
}
