// Health reasons read as sentences: "1 due task waits", "2 due tasks wait" (issue 16, item 10).
import { describe, expect, it } from 'vitest';
import { count, evaluateStatus, type StatusInputs } from '../../engine/src/health/queueStatus.js';

const calm: StatusInputs = {
	oldestQueuedAgeSeconds: 0,
	attemptsLastHour: 0,
	failuresLastHour: 0,
	stuck: 0,
	deadLetters: 0,
	dueForHandlers: 0,
	handlers: { count: 1, healthy: 1 },
};
const zero = { maxQueuedAgeSeconds: 0, maxFailureRate: 0, maxStuck: 0, maxDeadLetters: 0 };
const messagesOf = (inputs: Partial<StatusInputs>) => evaluateStatus({ ...calm, ...inputs }, zero).reasons.map((r) => r.message);

describe('health reasons agree with their numbers', () => {
	it('counts with singular and plural words', () => {
		expect(count(0, 'task', 'tasks')).toBe('0 tasks');
		expect(count(1, 'task', 'tasks')).toBe('1 task');
		expect(count(2, 'task', 'tasks')).toBe('2 tasks');
	});

	it('says "1 due task waits" and "2 due tasks wait"', () => {
		expect(messagesOf({ dueForHandlers: 1, handlers: { count: 0, healthy: 0 } })).toContain(
			'1 due task waits for a handler and the queue has no handler',
		);
		expect(messagesOf({ dueForHandlers: 2, handlers: { count: 1, healthy: 0 } })).toContain(
			'2 due tasks wait for a handler and its one handler is not healthy',
		);
		expect(messagesOf({ dueForHandlers: 2, handlers: { count: 3, healthy: 0 } })[0]).toContain('none of its 3 handlers is healthy');
	});

	it('says "1 task is active", "1 dead letter", "1 of 1 attempt"', () => {
		const one = messagesOf({ stuck: 1, deadLetters: 1, attemptsLastHour: 1, failuresLastHour: 1 });
		expect(one).toContainEqual(expect.stringMatching(/^1 task is active past its timeout and grace \(/));
		expect(one).toContainEqual(expect.stringMatching(/^1 dead letter \(/));
		expect(one).toContainEqual(expect.stringMatching(/^1 of 1 attempt in the last hour failed/));
		const two = messagesOf({ stuck: 2, deadLetters: 2, attemptsLastHour: 2, failuresLastHour: 2 });
		expect(two).toContainEqual(expect.stringMatching(/^2 tasks are active past their timeout and grace \(/));
		expect(two).toContainEqual(expect.stringMatching(/^2 dead letters \(/));
		expect(two).toContainEqual(expect.stringMatching(/^2 of 2 attempts in the last hour failed/));
	});
});
