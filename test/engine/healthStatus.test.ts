import { describe, expect, it } from 'vitest';
import { count, DEFAULT_THRESHOLDS, evaluateStatus, level, worstStatus, type StatusInputs } from '../../engine/src/health/queueStatus.js';

const calm: StatusInputs = {
	oldestQueuedAgeSeconds: 0,
	attemptsLastHour: 0,
	failuresLastHour: 0,
	stuck: 0,
	deadLetters: 0,
	dueForHandlers: 0,
	handlers: { count: 1, healthy: 1 },
};
const thresholds = { maxQueuedAgeSeconds: 60, maxFailureRate: 0.1, maxStuck: 2, maxDeadLetters: 10 };

describe('queue status from thresholds', () => {
	it('is ok at the threshold, a warning above it, critical from twice it', () => {
		expect(level(10, 10)).toBe('ok');
		expect(level(10.01, 10)).toBe('warning');
		expect(level(19.99, 10)).toBe('warning');
		expect(level(20, 10)).toBe('critical');
		// A zero threshold tolerates nothing: anything above it is already twice it.
		expect(level(0, 0)).toBe('ok');
		expect(level(1, 0)).toBe('critical');
	});

	it('is ok with nothing over a threshold', () => {
		expect(evaluateStatus(calm, thresholds)).toEqual({ status: 'ok', reasons: [] });
		expect(evaluateStatus({ ...calm, oldestQueuedAgeSeconds: 60, stuck: 2, deadLetters: 10, attemptsLastHour: 10, failuresLastHour: 1 }, thresholds).status).toBe('ok');
	});

	it('flags each figure with its code', () => {
		const cases: [Partial<StatusInputs>, string, 'warning' | 'critical'][] = [
			[{ oldestQueuedAgeSeconds: 61 }, 'queued_age', 'warning'],
			[{ oldestQueuedAgeSeconds: 120 }, 'queued_age', 'critical'],
			[{ attemptsLastHour: 100, failuresLastHour: 11 }, 'failure_rate', 'warning'],
			[{ attemptsLastHour: 100, failuresLastHour: 20 }, 'failure_rate', 'critical'],
			[{ stuck: 3 }, 'stuck', 'warning'],
			[{ stuck: 4 }, 'stuck', 'critical'],
			[{ deadLetters: 11 }, 'dead_letters', 'warning'],
			[{ deadLetters: 20 }, 'dead_letters', 'critical'],
		];
		for (const [figures, code, status] of cases) {
			const result = evaluateStatus({ ...calm, ...figures }, thresholds);
			expect(result.status, `${code} ${JSON.stringify(figures)}`).toBe(status);
			expect(result.reasons.map((r) => r.code)).toEqual([code]);
			expect(result.reasons[0].message).toMatch(status === 'critical' ? /critical from/ : /warning above/);
		}
	});

	it('ignores the failure rate when nothing was attempted', () => {
		expect(evaluateStatus({ ...calm, attemptsLastHour: 0, failuresLastHour: 0 }, { ...thresholds, maxFailureRate: 0 }).status).toBe('ok');
		expect(evaluateStatus({ ...calm, attemptsLastHour: 3, failuresLastHour: 3 }, { ...thresholds, maxFailureRate: 1 }).status).toBe('ok');
	});

	it('is critical when due tasks have no healthy handler, and only then', () => {
		const none = evaluateStatus({ ...calm, dueForHandlers: 4, handlers: { count: 0, healthy: 0 } }, thresholds);
		expect(none.status).toBe('critical');
		expect(none.reasons).toEqual([{ code: 'no_handler', message: '4 due tasks wait for a handler and the queue has no handler' }]);
		const unhealthy = evaluateStatus({ ...calm, dueForHandlers: 1, handlers: { count: 2, healthy: 0 } }, thresholds);
		expect(unhealthy.reasons[0].message).toContain('none of its 2 handlers is healthy');
		// No handler but nothing due for one (only scheduled tasks, or tasks with their own url): fine.
		expect(evaluateStatus({ ...calm, dueForHandlers: 0, handlers: { count: 0, healthy: 0 } }, thresholds).status).toBe('ok');
	});

	it('lists critical reasons before warnings and reports the worst', () => {
		const result = evaluateStatus({ ...calm, deadLetters: 11, stuck: 9 }, thresholds);
		expect(result.status).toBe('critical');
		expect(result.reasons.map((r) => r.code)).toEqual(['stuck', 'dead_letters']);
		expect(worstStatus([])).toBe('ok');
		expect(worstStatus(['ok', 'warning', 'ok'])).toBe('warning');
		expect(worstStatus(['warning', 'critical', 'ok'])).toBe('critical');
	});

	it('has defaults that leave an idle queue ok', () => {
		expect(evaluateStatus(calm, DEFAULT_THRESHOLDS).status).toBe('ok');
		expect(DEFAULT_THRESHOLDS).toEqual({ maxQueuedAgeSeconds: 300, maxFailureRate: 0.2, maxStuck: 5, maxDeadLetters: 100 });
	});
});

// Health reasons read as sentences: "1 due task waits", "2 due tasks wait" (issue 16, item 10).
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
