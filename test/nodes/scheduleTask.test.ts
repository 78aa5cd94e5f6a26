// Schedule Task, run through n8n-core against a real engine over HTTP. The schedules API is
// checked in the engine's live OpenAPI document: without it these tests are skipped, not faked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { jsonOf, listSearch, runNode, TIME_ZONE, type RunOptions } from './harness.js';
import { byId, byName, startNodeTestEngine } from './nodeEngine.js';

const engine = await startNodeTestEngine();
afterAll(async () => {
	await engine.stop();
});
const run = (parameters: INodeParameters, options: Partial<RunOptions> = {}) =>
	runNode('scheduleTask', { resource: 'schedule', ...parameters }, { credentials: engine.credentials, ...options });

const upsert = (extra: INodeParameters = {}): INodeParameters => ({
	operation: 'upsert',
	scheduleName: 'nightly-report',
	queue: byName('reports'),
	taskName: '',
	scheduleType: 'cron',
	cron: '0 9 * * *',
	timezone: '',
	payload: '{"format":"pdf"}',
	options: {},
	...extra,
});

/** Wall-clock time of an instant in the test workflow's time zone, e.g. "09:00". */
const wallClock = (iso: string) =>
	new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));

describe('Schedule Task', () => {
	beforeAll(async () => {
		expect((await engine.api('POST', '/v1/queues', { name: 'reports' })).status).toBe(201);
	});

	it("creates a cron schedule in the workflow's time zone, then updates it by name", async () => {
		const [created] = jsonOf(await run(upsert()));
		expect(created).toMatchObject({
			name: 'nightly-report',
			queue: 'reports',
			taskName: 'nightly-report',
			cron: '0 9 * * *',
			everySeconds: null,
			timezone: TIME_ZONE,
			payload: { format: 'pdf' },
			misfire: 'skip',
			overlap: 'allow',
			created: true,
		});
		expect(wallClock(String(created!.nextFireAt))).toBe('09:00');

		const [updated] = jsonOf(
			await run(
				upsert({
					scheduleType: 'interval',
					every: 2,
					everyUnit: 'hours',
					taskName: 'build-report',
					options: { misfire: 'runOnce', overlap: 'skip', targetUrl: 'http://127.0.0.1:9/report', priority: 'low', retryLimit: 1 },
				}),
			),
		);
		expect(updated).toMatchObject({
			id: created!.id,
			created: false,
			cron: null,
			everySeconds: 7200,
			taskName: 'build-report',
			misfire: 'run_once',
			overlap: 'skip',
			url: 'http://127.0.0.1:9/report',
			priority: -10,
		});

		// Options removed in the node are removed in the engine: the node's definition is the schedule.
		const [cleared] = jsonOf(await run(upsert()));
		expect(cleared).toMatchObject({ id: created!.id, url: null, priority: null, retry: null, taskName: 'nightly-report', misfire: 'skip' });
	});

	it('finds a schedule by name, by ID and lists them', async () => {
		const [created] = jsonOf(await run(upsert({ scheduleName: 'weekly-digest', cron: '30 7 * * 1', timezone: 'America/New_York' })));
		const [byNameResult] = jsonOf(await run({ operation: 'get', schedule: byName('weekly-digest') }));
		expect(byNameResult).toMatchObject({ id: created!.id, timezone: 'America/New_York' });
		const [byIdResult] = jsonOf(await run({ operation: 'get', schedule: byId(String(created!.id)) }));
		expect(byIdResult!.name).toBe('weekly-digest');

		const listed = jsonOf(await run({ operation: 'getAll', returnAll: true, filters: { queue: byName('reports') } }));
		expect(listed.map((s) => s.name)).toEqual(expect.arrayContaining(['nightly-report', 'weekly-digest']));
		expect(jsonOf(await run({ operation: 'getAll', returnAll: false, limit: 1, filters: {} }))).toHaveLength(1);

		// The "From List" mode shows names and stores IDs.
		const found = await listSearch('scheduleTask', 'searchSchedules', engine.credentials, 'weekly');
		expect(found.results).toEqual([{ name: 'weekly-digest', value: created!.id }]);
	});

	it('pauses, resumes and previews the next runs', async () => {
		jsonOf(await run(upsert({ scheduleName: 'morning', cron: '0 9 * * *' })));
		const [paused] = jsonOf(await run({ operation: 'pause', schedule: byName('morning') }));
		expect(paused).toMatchObject({ paused: true, nextFireAt: null });
		const [resumed] = jsonOf(await run({ operation: 'resume', schedule: byName('morning') }));
		expect(resumed!.paused).toBe(false);

		const [preview] = jsonOf(await run({ operation: 'previewNextRuns', schedule: byName('morning'), count: 3 }));
		const fireTimes = preview!.fireTimes as string[];
		expect(fireTimes).toHaveLength(3);
		expect(fireTimes.map(wallClock)).toEqual(['09:00', '09:00', '09:00']);
		expect(Date.parse(fireTimes[1]!) - Date.parse(fireTimes[0]!)).toBeGreaterThanOrEqual(23 * 3600_000);
	});

	it('runs a schedule now: one task in its queue that carries the schedule', async () => {
		const [schedule] = jsonOf(await run(upsert({ scheduleName: 'on-demand', payload: '={{ JSON.stringify({ by: $json.user }) }}' }), { items: [{ json: { user: 'ada' } }] }));
		const [task] = jsonOf(await run({ operation: 'run', schedule: byName('on-demand') }));
		expect(task).toMatchObject({ queue: 'reports', name: 'on-demand', payload: { by: 'ada' }, schedule: { id: schedule!.id, name: 'on-demand' } });
		const stored = await engine.api<IDataObject>('GET', `/v1/tasks/${String(task!.id)}`);
		expect(stored.status).toBe(200);
	});

	it('deletes a schedule', async () => {
		const [schedule] = jsonOf(await run(upsert({ scheduleName: 'short-lived' })));
		const [deleted] = jsonOf(await run({ operation: 'delete', schedule: byName('short-lived') }));
		expect(deleted).toEqual({ id: schedule!.id, deleted: true });
		const gone = await run({ operation: 'get', schedule: byId(String(schedule!.id)) });
		expect(gone.error?.name).toBe('NodeApiError');
		expect(gone.error!.httpCode).toBe('404');
	});

	it("shows the engine's message for a bad cron expression, and checks parameters itself", async () => {
		const badCron = await run(upsert({ scheduleName: 'broken', cron: '61 * * * *' }));
		expect(badCron.error?.name).toBe('NodeApiError');
		expect(badCron.error!.httpCode).toBe('400');
		expect(badCron.error!.message).toMatch(/cron/);

		const badZone = await run(upsert({ scheduleName: 'broken', timezone: 'Mars/Olympus' }));
		expect(badZone.error?.name).toBe('NodeOperationError');
		expect(badZone.error!.message).toBe('Time Zone "Mars/Olympus" is not a known IANA time zone');

		const unknown = await run({ operation: 'get', schedule: byName('never-created') });
		expect(unknown.error?.name).toBe('NodeApiError');
		expect(unknown.error!.message).toContain('Schedule "never-created" does not exist');
	});

	it('continues on fail with an error item for the failing item only', async () => {
		const items = [{ json: { cron: '0 6 * * *' } }, { json: { cron: 'not a cron' } }];
		const result = await run(upsert({ scheduleName: '={{ "per-item-" + $itemIndex }}', cron: '={{ $json.cron }}' }), {
			items,
			onError: 'continueRegularOutput',
		});
		const output = result.outputs[0]!;
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(output[0]!.json.name).toBe('per-item-0');
		expect(String(output[1]!.json.error)).toMatch(/cron/);
	});
});
