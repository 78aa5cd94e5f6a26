import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/** The schedules API: shapes, CRUD, upsert, pause/resume, `next` across DST, and every bad input. */
describe('schedules API', () => {
	let te: TestEngine;
	// A yearly cron far from now keeps these schedules from firing while the tests run.
	const yearly = '0 0 1 1 *';

	beforeAll(async () => {
		te = await startTestEngine({ PAYLOAD_LIMIT_BYTES: '1000' });
		expect((await te.api('POST', '/v1/queues', { name: 'sq' })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues', { name: 'other' })).status).toBe(201);
	});
	afterAll(async () => te?.stop());

	const create = (body: Record<string, unknown>) => te.api('POST', '/v1/schedules', { queue: 'sq', cron: yearly, ...body });
	const count = async () => (await te.api('GET', '/v1/schedules?limit=500')).body.items.length as number;

	it('creates a schedule with the defaults of the contract', async () => {
		const res = await create({ name: 'nightly', payload: { a: 1 } });
		expect(res.status).toBe(201);
		const nextYear = new Date().getUTCFullYear() + 1;
		expect(res.body).toMatchObject({
			name: 'nightly',
			queue: 'sq',
			taskName: 'nightly',
			payload: { a: 1 },
			url: null,
			priority: null,
			retry: null,
			timeoutSeconds: null,
			cron: yearly,
			everySeconds: null,
			timezone: 'UTC',
			startAt: null,
			endAt: null,
			misfire: 'skip',
			overlap: 'allow',
			paused: false,
			nextFireAt: `${nextYear}-01-01T00:00:00.000Z`,
			lastFireAt: null,
		});
		expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
		const got = await te.api('GET', `/v1/schedules/${res.body.id}`);
		expect(got.status).toBe(200);
		expect(got.body).toEqual(res.body);
	});

	it('answers 409 schedule_exists for a duplicate name', async () => {
		await create({ name: 'dup' });
		const res = await create({ name: 'dup', cron: '0 1 * * *' });
		expect(res.status).toBe(409);
		expect(res.body.error.code).toBe('schedule_exists');
		expect(res.body.error.details[0].field).toBe('name');
	});

	it('404s an unknown id and 400s one that is not a uuid', async () => {
		const missing = await te.api('GET', '/v1/schedules/00000000-0000-4000-8000-000000000000');
		expect(missing.status).toBe(404);
		expect(missing.body.error.code).toBe('schedule_not_found');
		expect((await te.api('GET', '/v1/schedules/nope')).status).toBe(400);
		for (const [method, path] of [['PUT', ''], ['DELETE', ''], ['POST', '/pause'], ['POST', '/resume'], ['POST', '/run'], ['GET', '/next']] as const) {
			const res = await te.api(method, `/v1/schedules/00000000-0000-4000-8000-000000000000${path}`, method === 'PUT' ? { paused: true } : undefined);
			expect(res.status, `${method} ${path}`).toBe(404);
		}
	});

	it('lists by name with cursor paging and a queue filter', async () => {
		for (const name of ['list-a', 'list-b', 'list-c']) await create({ name, queue: 'other' });
		const first = await te.api('GET', '/v1/schedules?queue=other&limit=2');
		expect(first.status).toBe(200);
		expect(first.body.items.map((s: { name: string }) => s.name)).toEqual(['list-a', 'list-b']);
		expect(first.body.nextCursor).toEqual(expect.any(String));
		const second = await te.api('GET', `/v1/schedules?queue=other&limit=2&cursor=${first.body.nextCursor}`);
		expect(second.body.items.map((s: { name: string }) => s.name)).toEqual(['list-c']);
		expect(second.body.nextCursor).toBeNull();
	});

	it('updates: fields replace, null clears, retry merges, cron and everySeconds replace each other, nextFireAt is recomputed', async () => {
		const created = (await create({ name: 'upd', url: 'http://127.0.0.1:9/x', retry: { limit: 1 }, priority: 'high' })).body;
		expect(created.priority).toBe(10);
		const res = await te.api('PUT', `/v1/schedules/${created.id}`, { everySeconds: 3600, url: null, retry: { delaySeconds: 5 }, timezone: 'Europe/Berlin' });
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ cron: null, everySeconds: 3600, url: null, retry: { limit: 1, delaySeconds: 5 }, priority: 10, timezone: 'Europe/Berlin' });
		const next = Date.parse(res.body.nextFireAt);
		expect(next).toBeGreaterThan(Date.now() + 3500_000);
		expect(next).toBeLessThan(Date.now() + 3700_000);

		const back = await te.api('PUT', `/v1/schedules/${created.id}`, { cron: '0 3 * * *', startAt: '2030-06-01T00:00:00Z' });
		expect(back.body).toMatchObject({ cron: '0 3 * * *', everySeconds: null, nextFireAt: '2030-06-01T01:00:00.000Z' });

		await create({ name: 'taken' });
		const rename = await te.api('PUT', `/v1/schedules/${created.id}`, { name: 'taken' });
		expect(rename.status).toBe(409);
		expect(rename.body.error.code).toBe('schedule_exists');
	});

	it('upserts by name: 201 created, 200 updated, and an identical upsert changes nothing', async () => {
		const body = { queue: 'sq', cron: '*/15 * * * *', timezone: 'America/New_York', payload: { report: 'daily' } };
		const first = await te.api('PUT', '/v1/schedules/by-name/Daily%20report', body);
		expect(first.status).toBe(201);
		expect(first.body).toMatchObject({ name: 'Daily report', taskName: 'Daily report', cron: '*/15 * * * *' });
		const again = await te.api('PUT', '/v1/schedules/by-name/Daily%20report', body);
		expect(again.status).toBe(200);
		expect(again.body).toEqual(first.body);
		const changed = await te.api('PUT', '/v1/schedules/by-name/Daily%20report', { ...body, taskName: 'send-report' });
		expect(changed.status).toBe(200);
		expect(changed.body).toMatchObject({ id: first.body.id, taskName: 'send-report' });
		const byName = await te.api('GET', '/v1/schedules/by-name/Daily%20report');
		expect(byName.body).toEqual(changed.body);
		expect((await te.api('GET', '/v1/schedules/by-name/nothing-called-this')).status).toBe(404);

		const noQueue = await te.api('PUT', '/v1/schedules/by-name/fresh', { cron: yearly });
		expect(noQueue.status).toBe(400);
		expect(noQueue.body.error.details[0].field).toBe('queue');
	});

	it('pauses (nextFireAt null) and resumes (recomputed)', async () => {
		const s = (await create({ name: 'pausable', cron: undefined, everySeconds: 600 })).body;
		const paused = await te.api('POST', `/v1/schedules/${s.id}/pause`);
		expect(paused.status).toBe(200);
		expect(paused.body).toMatchObject({ paused: true, nextFireAt: null });
		const resumed = await te.api('POST', `/v1/schedules/${s.id}/resume`);
		expect(resumed.body.paused).toBe(false);
		expect(Date.parse(resumed.body.nextFireAt)).toBeGreaterThan(Date.now());
	});

	it('is described in the OpenAPI document', async () => {
		const doc = await te.api('GET', '/openapi.json', undefined, { auth: false });
		expect(doc.status).toBe(200);
		for (const path of ['/v1/schedules', '/v1/schedules/{id}', '/v1/schedules/by-name/{name}', '/v1/schedules/{id}/next', '/v1/schedules/{id}/run']) {
			expect(Object.keys(doc.body.paths)).toContain(path);
		}
	});

	it('deletes', async () => {
		const s = (await create({ name: 'doomed' })).body;
		expect((await te.api('DELETE', `/v1/schedules/${s.id}`)).status).toBe(204);
		expect((await te.api('GET', `/v1/schedules/${s.id}`)).status).toBe(404);
	});

	it('previews fire times: count defaults to 10, at most 100', async () => {
		const s = (await create({ name: 'preview', cron: undefined, everySeconds: 60, startAt: '2030-01-01T00:00:00Z' })).body;
		const ten = await te.api('GET', `/v1/schedules/${s.id}/next`);
		expect(ten.status).toBe(200);
		expect(ten.body.fireTimes).toHaveLength(10);
		expect(ten.body.fireTimes.slice(0, 2)).toEqual(['2030-01-01T00:00:00.000Z', '2030-01-01T00:01:00.000Z']);
		expect((await te.api('GET', `/v1/schedules/${s.id}/next?count=100`)).body.fireTimes).toHaveLength(100);
		for (const bad of ['101', '0', 'x']) {
			const res = await te.api('GET', `/v1/schedules/${s.id}/next?count=${bad}`);
			expect(res.status, bad).toBe(400);
			expect(res.body.error.details[0].field).toBe('querystring.count');
		}
	});

	it('shows DST in next: Europe/Berlin and America/New_York, spring-forward gap and fall-back repeat', async () => {
		const next = async (name: string, cron: string, timezone: string, startAt: string) => {
			const s = await create({ name, cron, timezone, startAt });
			expect(s.status).toBe(201);
			return (await te.api('GET', `/v1/schedules/${s.body.id}/next?count=3`)).body.fireTimes;
		};
		// 2030-03-31: 02:00 CET does not exist → 03:00 CEST (01:00Z)
		expect(await next('berlin-spring', '0 2 * * *', 'Europe/Berlin', '2030-03-30T00:00:00Z')).toEqual([
			'2030-03-30T01:00:00.000Z',
			'2030-03-31T01:00:00.000Z',
			'2030-04-01T00:00:00.000Z',
		]);
		// 2030-10-27: 02:00 happens twice; a fixed hour fires in the first (CEST) pass only
		expect(await next('berlin-fall', '0 2 * * *', 'Europe/Berlin', '2030-10-26T00:00:00Z')).toEqual([
			'2030-10-26T00:00:00.000Z',
			'2030-10-27T00:00:00.000Z',
			'2030-10-28T01:00:00.000Z',
		]);
		// 2030-03-10: 02:00 EST does not exist → 03:00 EDT (07:00Z)
		expect(await next('ny-spring', '0 2 * * *', 'America/New_York', '2030-03-09T00:00:00Z')).toEqual([
			'2030-03-09T07:00:00.000Z',
			'2030-03-10T07:00:00.000Z',
			'2030-03-11T06:00:00.000Z',
		]);
		// 2030-11-03: 01:00 happens twice; fires at 01:00 EDT (05:00Z) only
		expect(await next('ny-fall', '0 1 * * *', 'America/New_York', '2030-11-02T00:00:00Z')).toEqual([
			'2030-11-02T05:00:00.000Z',
			'2030-11-03T05:00:00.000Z',
			'2030-11-04T06:00:00.000Z',
		]);
		// an unrestricted hour fires in both passes of the repeated hour
		expect(await next('ny-hourly', '0 * * * *', 'America/New_York', '2030-11-03T04:30:00Z')).toEqual([
			'2030-11-03T05:00:00.000Z',
			'2030-11-03T06:00:00.000Z',
			'2030-11-03T07:00:00.000Z',
		]);
	});

	describe('bad input answers 4xx naming the field and writes nothing', () => {
		const cases: [string, Record<string, unknown>, number, string, RegExp?][] = [
			['invalid cron field', { cron: '0 25 * * *' }, 400, 'cron', /cron field 2 \(hour\) "25" is invalid/],
			['invalid 6-field cron', { cron: '*/2 * * * 13 *' }, 400, 'cron', /cron field 5 \(month\) "13"/],
			['cron with 4 fields', { cron: '* * * *' }, 400, 'cron', /5 fields/],
			['unknown time zone', { timezone: 'Mars/Olympus' }, 400, 'timezone', /not a known IANA time zone/],
			['everySeconds 0', { cron: undefined, everySeconds: 0 }, 400, 'everySeconds'],
			['everySeconds fractional', { cron: undefined, everySeconds: 1.5 }, 400, 'everySeconds'],
			['both cron and everySeconds', { everySeconds: 60 }, 400, 'cron', /cannot both be given/],
			['neither cron nor everySeconds', { cron: undefined }, 400, 'cron', /cron or everySeconds is required/],
			['endAt before startAt', { startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' }, 400, 'endAt', /endAt must be after startAt/],
			['endAt not a date', { endAt: 'tomorrow' }, 400, 'endAt'],
			['unknown queue', { queue: 'nope' }, 404, 'queue'],
			['unknown field', { color: 'blue' }, 400, 'color', /color is not a known field/],
			['misfire value', { misfire: 'always' }, 400, 'misfire'],
			['overlap value', { overlap: 'queue' }, 400, 'overlap'],
			['priority out of range', { priority: 101 }, 400, 'priority'],
			['retry.limit negative', { retry: { limit: -1 } }, 400, 'retry.limit'],
			['retry unknown field', { retry: { tries: 3 } }, 400, 'retry.tries'],
			['retry max below base', { retry: { delaySeconds: 100, maxDelaySeconds: 10 } }, 400, 'retry.maxDelaySeconds'],
			['timeoutSeconds 0', { timeoutSeconds: 0 }, 400, 'timeoutSeconds'],
			['url scheme', { url: 'ftp://example.com/x' }, 400, 'url'],
			['empty taskName', { taskName: '' }, 400, 'taskName'],
			['payload over the limit', { payload: { big: 'x'.repeat(2000) } }, 413, 'payload'],
			['name with a slash', { name: 'a/b' }, 400, 'name'],
		];
		for (const [what, body, status, field, message] of cases) {
			it(what, async () => {
				const before = await count();
				const res = await te.api('POST', '/v1/schedules', { name: `bad-${what}`, queue: 'sq', cron: yearly, ...body });
				expect(res.status).toBe(status);
				expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
				expect(res.body.error.message).toContain(field);
				if (message) expect(res.body.error.message).toMatch(message);
				expect(await count()).toBe(before);
			});
		}

		it('the same checks apply on update, and a failed update changes nothing', async () => {
			const s = (await create({ name: 'stable' })).body;
			for (const [body, field] of [
				[{ cron: '61 * * * *' }, 'cron'],
				[{ timezone: 'Nowhere/City' }, 'timezone'],
				[{ cron: '* * * * *', everySeconds: 5 }, 'cron'],
				[{ cron: null }, 'cron'],
				[{ endAt: '2000-01-01T00:00:00Z', startAt: '2001-01-01T00:00:00Z' }, 'endAt'],
				[{ queue: 'missing' }, 'queue'],
				[{ id: 'x' }, 'id'],
			] as [Record<string, unknown>, string][]) {
				const res = await te.api('PUT', `/v1/schedules/${s.id}`, body);
				expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
				expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
			}
			expect((await te.api('GET', `/v1/schedules/${s.id}`)).body).toEqual(s);
		});
	});
});
