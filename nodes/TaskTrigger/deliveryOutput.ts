import type { IDataObject } from 'n8n-workflow';

/** The body `type` of a dead-letter event (docs/async-completion.md, "Dead-letter events"); the engine also sends `x-task-event: dead_letter`. */
export const DEAD_LETTER_EVENT_TYPE = 'task.dead_lettered';

/** What one delivery is: a task to work on, or an event about a batch or a dead letter. */
export type DeliveryKind = 'task' | 'batchEvent' | 'deadLetter';

export function deliveryKindOf(body: IDataObject): DeliveryKind {
	if (body.type === DEAD_LETTER_EVENT_TYPE) return 'deadLetter';
	return batchOfEvent(body) === undefined ? 'task' : 'batchEvent';
}

/**
 * The trigger's output for one delivery (the body of docs/delivery-contract.md). A task's payload fields come first,
 * at the top level when the payload is an object (otherwise under `payload`), and the task's
 * metadata under `task`, which wins if the payload has a `task` field too. A batch event (a
 * delivery named like `batch.finished` whose payload holds the batch) outputs the batch itself; a
 * dead-letter event (`{ type: "task.dead_lettered", task }`) outputs the failed task as the engine
 * shows it, with its `attempts`.
 */
export function deliveryOutput(body: IDataObject): IDataObject {
	if (body.type === DEAD_LETTER_EVENT_TYPE) return isPlainObject(body.task) ? body.task : {};
	const batchEvent = batchOfEvent(body);
	if (batchEvent !== undefined) return batchEvent;

	const task: IDataObject = {
		id: body.id,
		attempt: body.attempt,
		maxAttempts: body.maxAttempts,
		queue: body.queue,
		name: body.name,
		scheduledFor: body.scheduledFor,
		createdAt: body.createdAt,
	};
	if (body.batch !== undefined) task.batch = body.batch;
	if (body.schedule !== undefined) task.schedule = body.schedule;

	const payload = body.payload;
	const fields = isPlainObject(payload) ? payload : { payload: payload ?? null };
	return { ...fields, task };
}

function isPlainObject(value: unknown): value is IDataObject {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The batch a batch event announces: the engine sends `{ batch }` as the payload (and tolerates a
 * top-level `batch`). A chunk task of a batch also carries `batch`, but with its `chunkIndex`.
 */
function batchOfEvent(body: IDataObject): IDataObject | undefined {
	if (typeof body.name !== 'string' || !body.name.startsWith('batch.')) return undefined;
	const candidate = isPlainObject(body.payload) && isPlainObject(body.payload.batch) ? body.payload.batch : body.batch;
	return isPlainObject(candidate) && candidate.chunkIndex === undefined ? candidate : undefined;
}
