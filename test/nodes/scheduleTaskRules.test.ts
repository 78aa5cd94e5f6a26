// Schedule Task 1.1 (issue 16, item 6), run through n8n-core against a real engine over HTTP: the
// friendly trigger rule and what it becomes in the engine, time zones from a list, Preview Next
// Runs of a rule before it is saved, and next runs shown over the output pane.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeParameters, NodeExecutionHint } from 'n8n-workflow';
import { checkTimezone } from '../../engine/src/schedules/occurrences.js';
import { jsonOf, loadOptions, runNode, TIME_ZONE, type RunOptions, type RunResult } from './harness.js';
import { byName, startNodeTestEngine } from './nodeEngine.js';

const engine = await startNodeTestEngine();
afterAll(async () => {
	await engine.stop();
});

const run = (parameters: INodeParameters, options: Partial<RunOptions> = {}) =>
	runNode('scheduleTask', { resource: 'schedule', ...parameters }, { credentials: engine.credentials, typeVersion: 1.1, ...options });
const upsert = (extra: INodeParameters = {}): INodeParameters => ({
	operation: 'upsert',
	scheduleName: 'rule-schedule',
	queue: byName('rules'),
	payload: '{}',
	...extra,
});
const preview = (extra: INodeParameters = {}): INodeParameters => ({ operation: 'previewNextRuns', ...extra });

/** The hints the node left on its run, as n8n shows them over the output pane. */
const hintsOf = (result: RunResult): NodeExecutionHint[] => result.run.data.resultData.runData['Node Under Test']?.[0]?.hints ?? [];

/** Wall-clock time and weekday of an instant in a zone, e.g. "Mon 18:00". */
const wallClock = (iso: string, timeZone = TIME_ZONE) =>
	new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso)).replace(',', '');

const scheduleCount = async () => (await engine.api('GET', '/v1/schedules?limit=500')).body.items.length as number;

beforeAll(async () => {
	expect((await engine.api('POST', '/v1/queues', { name: 'rules' })).status).toBe(201);
});

describe('Schedule Task 1.1: Create or Update', () => {
	it('starts with n8n\'s friendly default, every day at midnight in the workflow\'s time zone, and shows the next runs', async () => {
		const result = await run(upsert());
		const [created] = jsonOf(result);
		expect(created).toMatchObject({ name: 'rule-schedule', cron: '0 0 * * *', everySeconds: null, timezone: TIME_ZONE, created: true });
		expect(wallClock(String(created!.nextFireAt))).toMatch(/ 00:00$/);

		const [hint] = hintsOf(result);
		expect(hint!.location).toBe('outputPane');
		expect(hint!.message).toMatch(new RegExp(`^"rule-schedule" runs next \\(${TIME_ZONE}\\): `));
		const runs = hint!.message.split(': ').slice(1).join(': ').split(' · ');
		expect(runs).toHaveLength(3);
		for (const at of runs) expect(at).toMatch(/^\w{3}, \d{1,2} \w{3} \d{4}, 00:00$/);
	});

	it.each([
		['every 45 seconds', { triggerInterval: 'seconds', secondsInterval: 45 }, { cron: null, everySeconds: 45 }],
		['every 15 minutes', { triggerInterval: 'minutes', minutesInterval: 15 }, { cron: null, everySeconds: 900 }],
		['every 6 hours at :30', { triggerInterval: 'hours', hoursInterval: 6, triggerAtMinute: 30 }, { cron: '30 */6 * * *', everySeconds: null }],
		['every hour', { triggerInterval: 'hours', hoursInterval: 1 }, { cron: '0 * * * *', everySeconds: null }],
		['daily at 09:15', { triggerInterval: 'days', daysInterval: 1, triggerAtHour: 9, triggerAtMinute: 15 }, { cron: '15 9 * * *', everySeconds: null }],
		['every 2 days at noon', { triggerInterval: 'days', daysInterval: 2, triggerAtHour: 12 }, { cron: '0 12 */2 * *', everySeconds: null }],
		['Mon, Wed, Fri at 18:00', { triggerInterval: 'weeks', triggerAtDay: [5, 1, 3], triggerAtHour: 18 }, { cron: '0 18 * * 1,3,5', everySeconds: null }],
		['every day when no weekday is picked', { triggerInterval: 'weeks', triggerAtDay: [], triggerAtHour: 7 }, { cron: '0 7 * * *', everySeconds: null }],
		['quarterly on the 15th at 08:00', { triggerInterval: 'months', monthsInterval: 3, triggerAtDayOfMonth: 15, triggerAtHour: 8 }, { cron: '0 8 15 */3 *', everySeconds: null }],
		['a custom cron', { triggerInterval: 'cronExpression', cron: '0 9 * * 1-5' }, { cron: '0 9 * * 1-5', everySeconds: null }],
	])('saves %s as the engine\'s cron or interval', async (_name, rule, expected) => {
		const [saved] = jsonOf(await run(upsert({ scheduleName: 'rule-each', ...rule })));
		expect(saved).toMatchObject({ ...expected, timezone: TIME_ZONE });
		// The engine's own view agrees.
		expect((await engine.api('GET', `/v1/schedules/${String(saved!.id)}`)).body).toMatchObject(expected);
	});

	it('reads calendar rules in the chosen time zone, and refuses an unknown one by name', async () => {
		const [newYork] = jsonOf(await run(upsert({ scheduleName: 'rule-ny', triggerAtHour: 9, timezone: 'America/New_York' })));
		expect(newYork).toMatchObject({ cron: '0 9 * * *', timezone: 'America/New_York' });
		expect(wallClock(String(newYork!.nextFireAt), 'America/New_York')).toMatch(/ 09:00$/);

		const unknown = await run(upsert({ scheduleName: 'rule-bad-zone', timezone: '={{ "Mars/Olympus" }}' }));
		expect(unknown.error?.name).toBe('NodeOperationError');
		expect(unknown.error!.message).toBe('Time Zone "Mars/Olympus" is not a known IANA time zone');

		const badMinute = await run(upsert({ scheduleName: 'rule-bad-minute', triggerAtMinute: '={{ 75 }}' }));
		expect(badMinute.error?.name).toBe('NodeOperationError');
		expect(badMinute.error!.message).toBe('Run at Minute must be a whole number from 0 to 59');
	});

	it('says so over the output when the schedule is paused', async () => {
		const [saved] = jsonOf(await run(upsert({ scheduleName: 'rule-paused' })));
		expect((await engine.api('POST', `/v1/schedules/${String(saved!.id)}/pause`)).status).toBe(200);
		const again = await run(upsert({ scheduleName: 'rule-paused', triggerAtHour: 6 }));
		expect(jsonOf(again)[0]).toMatchObject({ paused: true, cron: '0 6 * * *' });
		expect(hintsOf(again).map((h) => h.message)).toEqual(['"rule-paused" is paused: it does not run until it is resumed']);
	});
});

describe('Schedule Task 1.1: task policy as in Enqueue Task', () => {
	it('sends only the policy fields set (the Retry section, Priority), inherits the rest, and names the priority', async () => {
		const result = await run(upsert({ scheduleName: 'rule-policy', options: { priority: 'high' }, retry: { maxRetries: 1, backoff: 'fixed' } }));
		const [saved] = jsonOf(result);
		// The class name in the node's output; the engine keeps its integer.
		expect(saved).toMatchObject({ priority: 'high', retry: { limit: 1, backoff: 'fixed' }, timeoutSeconds: null });
		const stored = (await engine.api('GET', `/v1/schedules/${String(saved!.id)}`)).body;
		expect(stored).toMatchObject({ priority: 10, retry: { limit: 1, backoff: 'fixed' }, timeoutSeconds: null });

		// Run again without them: the schedule inherits again (the queue's, else High's 5 retries / 30 s).
		const [cleared] = jsonOf(await run(upsert({ scheduleName: 'rule-policy' })));
		expect(cleared).toMatchObject({ priority: null, retry: null, timeoutSeconds: null });
	});

	it('names the priority of the task Run Now makes', async () => {
		const [saved] = jsonOf(await run(upsert({ scheduleName: 'rule-policy-run', options: { priority: 'low' } })));
		const [task] = jsonOf(await run({ operation: 'run', schedule: byName('rule-policy-run') }));
		expect(saved!.priority).toBe('low');
		expect(task).toMatchObject({ queue: 'rules', priority: 'low' });
	});

	it('version 1 keeps its loose options and the integer priority', async () => {
		const v1 = { scheduleName: 'v1-policy', queue: byName('rules'), cron: '0 3 * * *', timezone: 'UTC', payload: '{}', options: { priority: 'high', retryLimit: 7 } };
		const [saved] = jsonOf(await run({ operation: 'upsert', ...v1 } as INodeParameters, { typeVersion: 1 }));
		expect(saved).toMatchObject({ priority: 10, retry: { limit: 7 }, timeoutSeconds: null });
	});
});

describe('Schedule Task 1.1: time zones', () => {
	it('offers the workflow\'s time zone first, then UTC and every IANA zone, each one the engine accepts', async () => {
		const options = await loadOptions('scheduleTask', 'getTimeZones', engine.credentials);
		expect(options.slice(0, 2)).toEqual([
			{ name: `Workflow Time Zone (${TIME_ZONE})`, value: 'workflow' },
			{ name: 'UTC', value: 'UTC' },
		]);
		expect(options).toContainEqual({ name: 'America/New York', value: 'America/New_York' });
		expect(options.length).toBeGreaterThan(300);
		const values = options.slice(1).map((o) => String(o.value));
		expect(new Set(values).size).toBe(values.length);
		const refused = values.filter((zone) => {
			try {
				checkTimezone(zone);
				return false;
			} catch {
				return true;
			}
		});
		expect(refused).toEqual([]);
	});
});

describe('Schedule Task 1.1: Preview Next Runs', () => {
	it('previews the rule typed in the node, before it is saved, in UTC and in its time zone', async () => {
		const before = await scheduleCount();
		const result = await run(
			preview({ triggerInterval: 'cronExpression', cron: '0 2 * * *', timezone: 'Europe/Berlin', count: 3, options: { startAt: '2030-03-30T00:00:00Z' } }),
		);
		const [item] = jsonOf(result);
		// Across the spring-forward gap: 02:00 does not exist on 31 March, it runs at 03:00 CEST.
		expect(item).toEqual({
			cron: '0 2 * * *',
			everySeconds: null,
			timezone: 'Europe/Berlin',
			fireTimes: ['2030-03-30T01:00:00.000Z', '2030-03-31T01:00:00.000Z', '2030-04-01T00:00:00.000Z'],
			localFireTimes: ['2030-03-30T02:00:00+01:00', '2030-03-31T03:00:00+02:00', '2030-04-01T02:00:00+02:00'],
		});
		expect(hintsOf(result).map((h) => h.message)).toEqual(['Next runs (Europe/Berlin): Sat, 30 Mar 2030, 02:00 · Sun, 31 Mar 2030, 03:00 · Mon, 1 Apr 2030, 02:00']);
		expect(await scheduleCount()).toBe(before);
	});

	it('previews the default rule five times, and an interval from its Start At with seconds', async () => {
		const [daily] = jsonOf(await run(preview()));
		expect(daily).toMatchObject({ cron: '0 0 * * *', timezone: TIME_ZONE });
		expect((daily!.fireTimes as string[]).map((at) => wallClock(at).slice(-5))).toEqual(Array(5).fill('00:00'));

		const result = await run(preview({ triggerInterval: 'seconds', secondsInterval: 30, count: 2, options: { startAt: '2030-01-01T00:00:15Z' } }));
		expect(jsonOf(result)[0]).toMatchObject({ everySeconds: 30, fireTimes: ['2030-01-01T00:00:15.000Z', '2030-01-01T00:00:45.000Z'] });
		expect(hintsOf(result)[0]!.message).toBe(`Next runs (${TIME_ZONE}): Tue, 1 Jan 2030, 01:00:15 · Tue, 1 Jan 2030, 01:00:45`);
	});

	it('previews a saved schedule when asked', async () => {
		const [saved] = jsonOf(await run(upsert({ scheduleName: 'rule-saved', triggerInterval: 'weeks', triggerAtDay: [1], triggerAtHour: 18 })));
		const [item] = jsonOf(await run(preview({ previewOf: 'savedSchedule', schedule: byName('rule-saved') })));
		expect(item).toMatchObject({ scheduleId: saved!.id, name: 'rule-saved', cron: '0 18 * * 1', timezone: TIME_ZONE });
		expect((item!.fireTimes as string[]).map((at) => wallClock(at))).toEqual(Array(5).fill('Mon 18:00'));
		expect(item!.localFireTimes as string[]).toHaveLength(5);
	});

	it("shows the engine's message for a bad rule, and outputs an error item per failing item", async () => {
		const bad = await run(preview({ triggerInterval: 'cronExpression', cron: '61 * * * *' }));
		expect(bad.error?.name).toBe('NodeApiError');
		expect(bad.error!.httpCode).toBe('400');
		expect(bad.error!.message).toMatch(/cron/);

		const result = await run(preview({ triggerInterval: 'cronExpression', cron: '={{ $json.cron }}', count: 1 }), {
			items: [{ json: { cron: '0 6 * * *' } }, { json: { cron: 'not a cron' } }],
			onError: 'continueRegularOutput',
		});
		const output = result.outputs[0]!;
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect((output[0]!.json.fireTimes as string[]).map((at) => wallClock(at).slice(-5))).toEqual(['06:00']);
		expect(String(output[1]!.json.error)).toMatch(/cron/);
	});
});

describe('Schedule Task 1: saved workflows keep doing what they did', () => {
	it('a node saved without a trigger interval is still a cron schedule', async () => {
		// As examples/3 was saved at version 1: n8n leaves out parameters at their default (scheduleType: cron).
		const saved: IDataObject = { scheduleName: 'v1-saved', queue: byName('rules'), cron: '*/3 * * * * *', timezone: 'UTC', payload: '{}', options: {} };
		const [schedule] = jsonOf(await run({ operation: 'upsert', ...saved } as INodeParameters, { typeVersion: 1 }));
		expect(schedule).toMatchObject({ cron: '*/3 * * * * *', everySeconds: null, timezone: 'UTC', created: true });

		const [previewed] = jsonOf(await run(preview({ schedule: byName('v1-saved') }), { typeVersion: 1 }));
		expect(Object.keys(previewed!).sort()).toEqual(['fireTimes', 'scheduleId']);
		expect(previewed!.fireTimes as string[]).toHaveLength(10);
	});
});
