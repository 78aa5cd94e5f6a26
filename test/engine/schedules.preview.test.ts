import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * `POST /v1/schedules/preview`: the fire times of a schedule before it is saved, computed by the
 * code that fires saved ones (so a preview and `GET …/next` of the same definition agree), every
 * bad input a 400 naming its field, and nothing written.
 */
const READ_KEY = 'read-key-schedule-preview-01';

describe('schedule preview', () => {
	let te: TestEngine;

	beforeAll(async () => {
		te = await startTestEngine({ API_KEYS: `test-key-0123456789abcdef,${READ_KEY}:read` }, { background: false });
		expect((await te.api('POST', '/v1/queues', { name: 'sq' })).status).toBe(201);
	});
	afterAll(async () => te?.stop());

	const preview = (body: unknown, auth?: string) => te.api('POST', '/v1/schedules/preview', body, auth ? { auth } : {});

	it('previews a cron in its time zone across DST exactly as the saved schedule will fire', async () => {
		const when = { cron: '0 2 * * *', timezone: 'Europe/Berlin', startAt: '2030-03-30T00:00:00Z' };
		const res = await preview({ ...when, count: 3 });
		expect(res.status).toBe(200);
		// 2030-03-31: 02:00 CET does not exist → 03:00 CEST (01:00Z); then CEST (00:00Z).
		expect(res.body).toEqual({ fireTimes: ['2030-03-30T01:00:00.000Z', '2030-03-31T01:00:00.000Z', '2030-04-01T00:00:00.000Z'] });

		const saved = await te.api('POST', '/v1/schedules', { name: 'berlin-2am', queue: 'sq', ...when });
		expect(saved.status).toBe(201);
		const next = await te.api('GET', `/v1/schedules/${saved.body.id}/next?count=3`);
		expect(next.body.fireTimes).toEqual(res.body.fireTimes);
	});

	it('gives 5 fire times by default and up to 100; a 6-field cron and endAt are honoured', async () => {
		const five = await preview({ cron: '*/10 * * * * *', startAt: '2030-01-01T00:00:00Z' });
		expect(five.status).toBe(200);
		expect(five.body.fireTimes).toEqual(['00', '10', '20', '30', '40'].map((s) => `2030-01-01T00:00:${s}.000Z`));
		expect((await preview({ cron: '* * * * *', count: 100 })).body.fireTimes).toHaveLength(100);
		// Only what falls before endAt.
		const ending = await preview({ cron: '0 9 * * *', timezone: 'America/New_York', startAt: '2030-06-01T00:00:00Z', endAt: '2030-06-03T00:00:00Z', count: 10 });
		expect(ending.body.fireTimes).toEqual(['2030-06-01T13:00:00.000Z', '2030-06-02T13:00:00.000Z']);
	});

	it('counts an interval from startAt, or from now as a schedule created now would', async () => {
		const fromStart = await preview({ everySeconds: 3600, startAt: '2030-01-01T00:00:00Z', count: 3 });
		expect(fromStart.body.fireTimes).toEqual(['2030-01-01T00:00:00.000Z', '2030-01-01T01:00:00.000Z', '2030-01-01T02:00:00.000Z']);

		const before = Math.floor(Date.now() / 1000) * 1000;
		const fromNow = await preview({ everySeconds: 90, count: 2 });
		const after = Date.now();
		const [first, second] = (fromNow.body.fireTimes as string[]).map(Date.parse);
		expect(first! % 1000).toBe(0);
		expect(first).toBeGreaterThanOrEqual(before + 90_000);
		expect(first).toBeLessThanOrEqual(after + 90_000);
		expect(second! - first!).toBe(90_000);
	});

	it('is a read: a read-only key may preview', async () => {
		const res = await preview({ cron: '0 0 1 1 *', count: 1 }, READ_KEY);
		expect(res.status).toBe(200);
		expect(res.body.fireTimes).toHaveLength(1);
		// …but still not create.
		expect((await te.api('POST', '/v1/schedules', { name: 'by-reader', queue: 'sq', cron: '0 0 1 1 *' }, { auth: READ_KEY })).status).toBe(403);
	});

	it.each([
		['both cron and everySeconds', { cron: '* * * * *', everySeconds: 60 }, ['cron', 'everySeconds']],
		['neither cron nor everySeconds', { timezone: 'UTC' }, ['cron']],
		['an empty body', {}, ['cron']],
		['a cron with a bad field', { cron: '61 * * * *' }, ['cron']],
		['a cron with 4 fields', { cron: '* * * *' }, ['cron']],
		['a null cron', { cron: null }, ['cron']],
		['an unknown time zone', { cron: '0 9 * * *', timezone: 'Mars/Olympus' }, ['timezone']],
		['an offset for a time zone', { cron: '0 9 * * *', timezone: '+02:00' }, ['timezone']],
		['a half-hour DST zone for cron', { cron: '0 9 * * *', timezone: 'Australia/Lord_Howe' }, ['timezone']],
		['everySeconds 0', { everySeconds: 0 }, ['everySeconds']],
		['everySeconds as text', { everySeconds: '60' }, ['everySeconds']],
		['count 0', { cron: '* * * * *', count: 0 }, ['count']],
		['count 101', { cron: '* * * * *', count: 101 }, ['count']],
		['count 1.5', { cron: '* * * * *', count: 1.5 }, ['count']],
		['startAt not a date', { cron: '* * * * *', startAt: 'tomorrow' }, ['startAt']],
		['endAt before startAt', { cron: '* * * * *', startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' }, ['endAt']],
		['a field of a saved schedule', { cron: '* * * * *', queue: 'sq' }, ['queue']],
	])('answers 400 naming the field for %s', async (_name, body, fields) => {
		const res = await preview(body);
		expect(res.status).toBe(400);
		expect(res.body.error.code).toBe('invalid_request');
		expect(res.body.error.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(fields));
		expect(res.body.error.message).toContain(fields[0]);
	});

	it('writes nothing', async () => {
		const rowCount = async () => {
			const { rows } = await te.engine.pool.query<{ n: number }>('SELECT (SELECT count(*) FROM schedules) + (SELECT count(*) FROM tasks) AS n');
			return rows[0]!.n;
		};
		const before = await rowCount();
		expect((await preview({ everySeconds: 1, count: 100 })).status).toBe(200);
		expect((await preview({ cron: '0 9 * * *', timezone: 'Mars/Olympus' })).status).toBe(400);
		expect(await rowCount()).toBe(before);
	});

	it('is in the OpenAPI document with its body and answer', async () => {
		const doc = (await te.api('GET', '/openapi.json', undefined, { auth: false })).body;
		const op = doc.paths['/v1/schedules/preview'].post;
		expect(Object.keys(op.requestBody.content['application/json'].schema.properties).sort()).toEqual(['count', 'cron', 'endAt', 'everySeconds', 'startAt', 'timezone']);
		expect(op.responses['200'].content['application/json'].schema.properties.fireTimes.type).toBe('array');
		expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403']));
	});
});
