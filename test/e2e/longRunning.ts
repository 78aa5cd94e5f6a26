import { expect } from 'vitest';
import { eventually, type Harness } from './harness.js';
import { msBetween, nodeOutput, type Scenarios } from './scenarioHelpers.js';
import type { Json } from './engineProcess.js';

/**
 * Scenario 6 of scenarios.e2e.test.ts (issue 12): long-running work and workflow-decided failures,
 * with the `examples/6-*` workflows deployed as they are. The four cases run at the same time, so
 * the scenario costs about as long as its longest case (a, ~40 s):
 *
 *  (a) a worker whose Task Trigger finishes "With a Complete/Fail Step" runs ~40 s (two Wait nodes)
 *      for a task with `timeoutSeconds: 15`, heartbeating: one execution, the task completed with
 *      its result, the heartbeats' progress and deadlines seen on the task while it ran;
 *  (b) a worker that fails its own task with "never retry" (bad input): a dead letter after one
 *      attempt, although its queue's policy allows 3 retries;
 *  (c) a worker that asks for a retry after 5 s: the next attempt starts 5 s after its Fail step,
 *      not after the policy's backoff (60 s ± 25 %);
 *  (d) a Dead Letters trigger on (b)'s queue receives (b)'s dead letter, with its attempts.
 */
export async function longRunningScenario(h: Harness, s: Scenarios, observed: string[]): Promise<void> {
	const ids = await h.time('6: deploy 4 workflows (together)', async () => {
		const [summarise, geocode, crm, alert] = await Promise.all([
			s.deploy('6-summarise-worker-heartbeats.json'),
			s.deploy('6-geocode-worker-never-retry.json'),
			s.deploy('6-crm-sync-worker-retry-later.json'),
			s.deploy('6-dead-letter-alert.json'),
		]);
		// The geocode worker (tasks) and the alert (dead letters) share a queue.
		await Promise.all([s.liveHandlers('summaries'), s.liveHandlers('addresses', 2), s.liveHandlers('crm-sync')]);
		return { summarise, geocode, crm, alert };
	});

	const enqueue = async (body: Json) => {
		const res = await h.engineApi('POST', '/v1/tasks', body);
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body.id as string;
	};
	const task = async (id: string) => (await h.engineApi('GET', `/v1/tasks/${id}`)).body;
	const final = (id: string, timeoutMs: number) =>
		eventually(async () => {
			const t = await task(id);
			return ['completed', 'failed', 'cancelled'].includes(t.state) ? t : undefined;
		}, timeoutMs, `task ${id} to finish`);

	const [longId, badId, limitedId] = await Promise.all([
		enqueue({ queue: 'summaries', name: 'summarise', payload: { document: 'annual-report.pdf' }, timeoutSeconds: 15 }),
		enqueue({ queue: 'addresses', name: 'geocode', payload: { orderId: 'G-1', address: '' } }),
		enqueue({ queue: 'crm-sync', name: 'sync-contact', payload: { contactId: 'C-42' } }),
	]);

	/** (a) watched while it runs: every progress and deadline the task showed. */
	const watchLongTask = async () => {
		const progress = new Map<string, Json>();
		const deadlines = new Set<string>();
		const done = await eventually(async () => {
			const t = await task(longId);
			if (t.progress) progress.set(`${t.progress.percent}:${t.progress.message}`, t.progress);
			if (t.deadlineAt) deadlines.add(t.deadlineAt);
			return ['completed', 'failed'].includes(t.state) ? t : undefined;
		}, 120_000, 'the long task to finish');
		return { done, progress: [...progress.values()], deadlines: [...deadlines] };
	};

	const [long, bad, limited, alertRuns] = await h.time('6: long run (~40 s) / never retry / retry after 5 s / dead-letter alert, together', () =>
		Promise.all([watchLongTask(), final(badId, 60_000), final(limitedId, 60_000), s.finishedExecutions(ids.alert, 1, 60_000)]),
	);

	// (a) Timed out after 15 s if the engine had waited for the HTTP answer; instead one attempt,
	// one execution, completed by its Complete step with the Summary node's item.
	expect(long.done).toMatchObject({
		state: 'completed',
		attemptCount: 1,
		result: { document: 'annual-report.pdf', summary: 'A short summary of annual-report.pdf', attempt: 1 },
	});
	expect(long.done.attempts).toHaveLength(1);
	const ranMs = msBetween(long.done.attempts[0].startedAt, long.done.finishedAt);
	observed.push(`6a: the long task ran ${ranMs} ms with timeoutSeconds 15; progress seen: ${long.progress.map((p) => `${p.percent}% ${p.message}`).join(', ')}; ${long.deadlines.length} deadline(s) seen`);
	expect(ranMs).toBeGreaterThan(35_000);
	expect(long.progress).toEqual(
		expect.arrayContaining([
			expect.objectContaining({ percent: 10, message: 'Fetching the document' }),
			expect.objectContaining({ percent: 50, message: 'Summarising' }),
		]),
	);
	// Each heartbeat set the deadline to its time + 120 s (the 202 opened it for the default hour):
	// two such deadlines, one Wait (18 s) apart.
	const startedAt = Date.parse(long.done.attempts[0].startedAt);
	const heartbeatDeadlines = long.deadlines.map(Date.parse).filter((at) => at - startedAt < 300_000).sort((a, b) => a - b);
	expect(heartbeatDeadlines.length).toBeGreaterThanOrEqual(2);
	expect(heartbeatDeadlines[0]! - startedAt).toBeGreaterThanOrEqual(119_000);
	expect(heartbeatDeadlines.at(-1)! - heartbeatDeadlines[0]!).toBeGreaterThanOrEqual(15_000);
	const [summariseRun] = await s.finishedExecutions(ids.summarise, 1);
	expect(summariseRun.status).toBe('success');
	const summariseExecutions = (await h.executions(ids.summarise)).length;
	observed.push(`6a: ${summariseExecutions} execution(s) of the summarise worker for the task (attempts: ${long.done.attemptCount})`);
	expect(summariseExecutions).toBe(1);

	// (b) A dead letter after one attempt, though the queue's policy has 3 retries left.
	expect(bad).toMatchObject({ state: 'failed', attemptCount: 1, maxAttempts: 4 });
	expect(bad.lastError).toContain('has no address: a retry cannot fix that');
	expect((await s.finishedExecutions(ids.geocode, 1)).map((e) => e.status)).toEqual(['success']);

	// (c) Attempt 2 started 5 s after the Fail step of attempt 1 (no jitter), then completed.
	expect(limited).toMatchObject({ state: 'completed', attemptCount: 2, result: { contactId: 'C-42', synced: true, attempt: 2 } });
	const crmRuns = await s.finishedExecutions(ids.crm, 2);
	expect(crmRuns.map((e) => e.status)).toEqual(['success', 'success']);
	// Measured from the report as the engine recorded it (attempt 1 ends when its Fail report
	// arrives), and from the start of n8n's Fail step, which sent it.
	const [first, second] = limited.attempts;
	const waitedMs = Date.parse(second.startedAt) - (Date.parse(first.startedAt) + first.durationMs);
	const [failRun] = crmRuns[0].data.resultData.runData['Fail: retry in 5 s'];
	const sinceFailStepMs = Date.parse(second.startedAt) - failRun.startTime;
	observed.push(`6c: attempt 2 started ${waitedMs} ms after the Fail report asked for 5 s (${sinceFailStepMs} ms after the Fail step started; attempt 1 answered ${first.statusCode})`);
	expect(waitedMs).toBeGreaterThanOrEqual(4_900);
	expect(sinceFailStepMs).toBeGreaterThanOrEqual(5_000);
	// The policy alone would have waited 60 s ± 25 %.
	expect(waitedMs).toBeLessThan(15_000);

	// (d) The Dead Letters trigger got (b)'s task with its attempts.
	const [alertRun] = alertRuns;
	expect(alertRun.status).toBe('success');
	expect(nodeOutput(alertRun, 'Dead letters')).toEqual([
		expect.objectContaining({ id: badId, queue: 'addresses', state: 'failed', attempts: [expect.objectContaining({ number: 1 })] }),
	]);
	expect(nodeOutput(alertRun, 'Alert')[0]).toMatchObject({
		taskId: badId,
		attempts: 1,
		message: expect.stringContaining('failed for good after 1 attempt(s): Order G-1 has no address'),
	});
}
