import { Type, type Static } from 'typebox';
import { TASK_STATES } from '../../tasks/states.js';
import { Nullable, RetryPolicy } from './common.js';

/**
 * The task as the API shows it. presentTask (tasks/taskService.ts) is typed by these schemas, so a
 * field the presenter sends and the schema does not name (or the reverse) fails to compile.
 */

const Attempt = Type.Object({
	number: Type.Integer(),
	startedAt: Type.String(),
	durationMs: Type.Union([Type.Integer(), Type.Null()]),
	outcome: Type.String(),
	statusCode: Type.Union([Type.Integer(), Type.Null()]),
	errorClass: Type.Union([Type.String(), Type.Null()]),
	error: Type.Union([Type.String(), Type.Null()]),
	responseSnippet: Type.Union([Type.String(), Type.Null()]),
	handlerId: Type.Union([Type.String(), Type.Null()]),
	report: Type.Union([Type.Enum(['complete', 'fail']), Type.Null()], { description: "The handler's report that closed the attempt (async completion), if one did" }),
});

export const TaskFields = {
	id: Type.String(),
	queue: Type.String(),
	name: Type.String(),
	state: Type.Enum(TASK_STATES),
	payload: Type.Unknown(),
	priority: Type.Integer(),
	retry: RetryPolicy,
	timeoutSeconds: Type.Integer(),
	maxAttempts: Type.Integer(),
	dueAt: Type.String(),
	createdAt: Type.String(),
	startedAt: Nullable(Type.String()),
	finishedAt: Nullable(Type.String()),
	attemptCount: Type.Integer(),
	result: Type.Unknown(),
	lastError: Nullable(Type.String()),
	deadlineAt: Nullable(Type.String({ description: 'While an async attempt is open (the handler answered 202): when it times out unless reported on' })),
	progress: Nullable(Type.Object({ percent: Nullable(Type.Number()), message: Nullable(Type.String()), updatedAt: Type.String() })),
	idempotencyKey: Nullable(Type.String()),
	concurrencyKey: Nullable(Type.String({ description: "Tasks sharing a key obey the queue's keyConcurrency and keyRateLimit" })),
	debounce: Nullable(
		Type.Object(
			{ key: Type.String(), mode: Type.Enum(['replace', 'collect']), maxWaitSeconds: Nullable(Type.Number()), open: Type.Boolean() },
			{ description: 'The debounce group the task carries; `open` while enqueues with its key may still join it' },
		),
	),
	url: Nullable(Type.String()),
	batch: Type.Optional(Type.Object({ id: Type.String(), chunkIndex: Type.Integer(), totalChunks: Type.Integer() })),
	schedule: Type.Optional(Type.Object({ id: Type.String(), name: Type.String(), occurrence: Type.String() })),
};
export const Task = Type.Object(TaskFields);
export const TaskWithAttempts = Type.Object({ ...TaskFields, attempts: Type.Array(Attempt) });

export type AttemptView = Static<typeof Attempt>;
export type TaskView = Static<typeof Task>;
export type TaskWithAttemptsView = Static<typeof TaskWithAttempts>;
