import { Type } from 'typebox';

/** `debounce` on an enqueue (docs/flow-control.md#debounce). */
export const Debounce = Type.Object(
	{
		key: Type.String({ minLength: 1, maxLength: 200, description: 'Enqueues of the queue with this key fold into one task while it waits, e.g. a chat user id (1–200 characters)' }),
		seconds: Type.Number({
			exclusiveMinimum: 0,
			maximum: 86400,
			description: 'The task runs this long after the last enqueue of its group: each enqueue that joins moves it (0 < seconds ≤ 86400)',
		}),
		mode: Type.Optional(
			Type.Enum(['replace', 'collect'], {
				default: 'replace',
				description: '`replace`: the task keeps the last payload; `collect`: its payload is `{ items: [...] }`, every payload in arrival order',
			}),
		),
		maxWaitSeconds: Type.Optional(
			Type.Number({
				exclusiveMinimum: 0,
				maximum: 86400,
				description: "The task runs at the latest this long after its group's first enqueue, even while more keep coming (≥ seconds, ≤ 86400)",
			}),
		),
	},
	{
		additionalProperties: false,
		description:
			'Not with delaySeconds, runAt or idempotencyKey. While the task of the same queue and key has not started, an enqueue joins it (200, `debounced: true`) instead of creating a task (201, `debounced: false`); the other fields come from the first enqueue',
	},
);
