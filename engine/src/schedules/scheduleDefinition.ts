import { isDeepStrictEqual } from 'node:util';
import { DomainError, invalidField } from '../errors.js';
import type { EnqueueInput } from '../tasks/enqueue.js';
import { priorityValue, type PartialRetryPolicy, type PriorityName } from '../tasks/policy.js';
import type { Misfire, Overlap } from './firePlan.js';
import { checkCron, checkTimezone, type Recurrence } from './occurrences.js';
import type { ScheduleRow, ScheduleValues } from './scheduleSql.js';
import type { ScheduleView } from '../api/schemas/schedule.js';

/**
 * A schedule as a client sends it (create, update, upsert). On update every field given replaces
 * the stored one, `null` clears an optional one, `retry` merges field by field, and giving `cron`
 * drops `everySeconds` (and the reverse): they are the two ways of saying when.
 */
export interface ScheduleInput {
	name?: string;
	queue?: string;
	taskName?: string | null;
	payload?: unknown;
	url?: string | null;
	priority?: PriorityName | number | null;
	retry?: PartialRetryPolicy | null;
	timeoutSeconds?: number | null;
	cron?: string | null;
	everySeconds?: number | null;
	timezone?: string;
	startAt?: string | null;
	endAt?: string | null;
	misfire?: Misfire;
	overlap?: Overlap;
	paused?: boolean;
}

/** A new schedule before its input: everything optional at its default. */
export const DEFAULTS: Omit<ScheduleValues, 'name' | 'queue'> = {
	taskName: null,
	payload: {},
	url: null,
	priority: null,
	retry: null,
	timeoutSeconds: null,
	cron: null,
	everySeconds: null,
	timezone: 'UTC',
	startAt: null,
	endAt: null,
	misfire: 'skip',
	overlap: 'allow',
	paused: false,
	nextFireAt: null,
	lastFireAt: null,
};

/** Merges input over stored (or default) values and checks what the request schema cannot. */
export function mergeInput(base: Omit<ScheduleValues, 'name' | 'queue'> & { name?: string; queue?: string }, input: ScheduleInput): ScheduleValues {
	if (input.cron != null && input.everySeconds != null) {
		throw new DomainError(400, 'invalid_request', 'cron and everySeconds cannot both be given; a schedule has one of them', [
			{ field: 'cron', message: 'cron cannot be combined with everySeconds' },
			{ field: 'everySeconds', message: 'everySeconds cannot be combined with cron' },
		]);
	}
	const pick = <K extends keyof ScheduleInput & keyof ScheduleValues>(key: K, current: ScheduleValues[K]) =>
		(input[key] === undefined ? current : input[key]) as ScheduleValues[K];
	const name = input.name ?? base.name;
	const queue = input.queue ?? base.queue;
	if (name === undefined) throw invalidField('name', 'is required');
	if (queue === undefined) throw invalidField('queue', 'is required');
	const values: ScheduleValues = {
		...base,
		name,
		queue,
		taskName: pick('taskName', base.taskName),
		payload: input.payload === undefined ? base.payload : input.payload,
		url: pick('url', base.url),
		priority: input.priority === undefined ? base.priority : (priorityValue(input.priority) ?? null),
		retry: input.retry === undefined ? base.retry : input.retry === null ? null : { ...base.retry, ...input.retry },
		timeoutSeconds: pick('timeoutSeconds', base.timeoutSeconds),
		cron: input.everySeconds != null ? null : pick('cron', base.cron),
		everySeconds: input.cron != null ? null : pick('everySeconds', base.everySeconds),
		timezone: input.timezone ?? base.timezone,
		startAt: input.startAt === undefined ? base.startAt : dateOrNull(input.startAt, 'startAt'),
		endAt: input.endAt === undefined ? base.endAt : dateOrNull(input.endAt, 'endAt'),
		misfire: input.misfire ?? base.misfire,
		overlap: input.overlap ?? base.overlap,
		paused: input.paused ?? base.paused,
	};
	if (values.cron === null && values.everySeconds === null) {
		throw new DomainError(400, 'invalid_request', 'cron or everySeconds is required: give one of them', [
			{ field: 'cron', message: 'cron or everySeconds is required' },
		]);
	}
	if (values.cron !== null) checkCron(values.cron);
	checkTimezone(values.timezone, values.cron !== null);
	if (values.startAt && values.endAt && values.endAt.getTime() <= values.startAt.getTime()) {
		throw invalidField('endAt', `must be after startAt (${values.startAt.toISOString()})`);
	}
	return values;
}

function dateOrNull(value: string | null, field: string): Date | null {
	if (value === null) return null;
	const at = Date.parse(value);
	if (Number.isNaN(at)) throw invalidField(field, 'must be an ISO 8601 date-time');
	return new Date(at);
}

/** What `POST /v1/schedules/preview` takes: when a schedule not saved yet would fire. */
export type PreviewInput = Pick<ScheduleInput, 'cron' | 'everySeconds' | 'timezone' | 'startAt' | 'endAt'>;

/**
 * The values of a schedule that is only previewed, checked by `mergeInput` like every saved one
 * (one of cron and everySeconds, the cron's fields, the time zone, endAt after startAt). It has
 * no name or queue: a preview writes nothing and fires nothing.
 */
export function previewValues(input: PreviewInput): ScheduleValues {
	return mergeInput({ ...DEFAULTS, name: '(preview)', queue: '(preview)' }, input);
}

/** True when an update would change nothing that decides fire times or tasks (an idempotent upsert). */
export function sameDefinition(a: ScheduleValues, b: ScheduleValues): boolean {
	const strip = (v: ScheduleValues) => ({ ...v, nextFireAt: null, lastFireAt: null, startAt: v.startAt?.getTime() ?? null, endAt: v.endAt?.getTime() ?? null });
	return isDeepStrictEqual(strip(a), strip(b));
}

/** The recurrence of a schedule; intervals count from startAt, else from its creation (whole second). */
export function recurrenceOf(v: ScheduleValues, createdAt: Date): Recurrence {
	return {
		cron: v.cron,
		everySeconds: v.everySeconds,
		timezone: v.timezone,
		startAt: v.startAt,
		endAt: v.endAt,
		anchor: v.startAt ?? new Date(Math.floor(createdAt.getTime() / 1000) * 1000),
	};
}

/** The task one occurrence becomes, as an API enqueue would send it (so it is validated the same way). */
export function enqueueInputOf(v: ScheduleValues, runAt?: Date): EnqueueInput {
	return {
		queue: v.queue,
		name: v.taskName ?? v.name,
		payload: v.payload,
		...(v.url !== null ? { url: v.url } : {}),
		...(v.priority !== null ? { priority: v.priority } : {}),
		...(v.retry !== null ? { retry: v.retry } : {}),
		...(v.timeoutSeconds !== null ? { timeoutSeconds: v.timeoutSeconds } : {}),
		...(runAt ? { runAt: runAt.toISOString() } : {}),
	};
}

/** The schedule as the API shows it. */
export function presentSchedule(s: ScheduleRow): ScheduleView {
	return {
		id: s.id,
		name: s.name,
		queue: s.queue,
		taskName: s.taskName ?? s.name,
		payload: s.payload,
		url: s.url,
		priority: s.priority,
		retry: s.retry,
		timeoutSeconds: s.timeoutSeconds,
		cron: s.cron,
		everySeconds: s.everySeconds,
		timezone: s.timezone,
		startAt: s.startAt?.toISOString() ?? null,
		endAt: s.endAt?.toISOString() ?? null,
		misfire: s.misfire,
		overlap: s.overlap,
		paused: s.paused,
		nextFireAt: s.nextFireAt?.toISOString() ?? null,
		lastFireAt: s.lastFireAt?.toISOString() ?? null,
		createdAt: s.createdAt.toISOString(),
		updatedAt: s.updatedAt.toISOString(),
	};
}
