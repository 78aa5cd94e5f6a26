import { Type, type Static } from 'typebox';
import { Nullable } from './common.js';

/**
 * The schedule as the API shows it. presentSchedule (schedules/scheduleDefinition.ts) is typed by
 * this schema, so a field the presenter sends and the schema does not name (or the reverse) fails
 * to compile.
 */
export const Schedule = Type.Object({
	id: Type.String(),
	name: Type.String(),
	queue: Type.String(),
	taskName: Type.String(),
	payload: Type.Unknown(),
	url: Nullable(Type.String()),
	priority: Nullable(Type.Integer()),
	retry: Nullable(Type.Object({}, { additionalProperties: true })),
	timeoutSeconds: Nullable(Type.Integer()),
	cron: Nullable(Type.String()),
	everySeconds: Nullable(Type.Integer()),
	timezone: Type.String(),
	startAt: Nullable(Type.String()),
	endAt: Nullable(Type.String()),
	misfire: Type.String(),
	overlap: Type.String(),
	paused: Type.Boolean(),
	nextFireAt: Nullable(Type.String({ description: 'Next occurrence not yet handed to the queue (UTC); null while paused or ended' })),
	lastFireAt: Nullable(Type.String()),
	createdAt: Type.String(),
	updatedAt: Type.String(),
});

export type ScheduleView = Static<typeof Schedule>;
