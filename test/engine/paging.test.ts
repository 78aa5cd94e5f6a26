import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * Every cursor-paged list returns each item exactly once across its pages, whatever the
 * timestamps. PostgreSQL keeps `created_at` to the microsecond and every row of one transaction
 * shares it; a cursor that rounded it to the millisecond skipped the rest of a bulk.
 */

/** One moment with a sub-millisecond part, shared by every row a test ties together. */
const TIE = '2026-03-04 05:06:07.123456+00';

let te: TestEngine;
let closedPort: number;

beforeAll(async () => {
	// The API alone: nothing is delivered, so rows keep the state and time the tests give them.
	te = await startTestEngine({}, { background: false });
	closedPort = await new Promise<number>((resolve) => {
		const server = net.createServer().listen(0, '127.0.0.1', () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
});
afterAll(async () => te?.stop());

interface Page {
	items: { id?: string; name?: string }[];
	nextCursor: string | null;
}

/** Follows `nextCursor` to the end; returns what `key` picks from every item, in page order. */
async function pageAll(url: string, limit: number, key: (item: { id?: string; name?: string }) => string): Promise<string[]> {
	const seen: string[] = [];
	let cursor: string | null = null;
	for (let pages = 0; ; pages++) {
		const sep = url.includes('?') ? '&' : '?';
		const res = await te.api<Page>('GET', `${url}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
		expect(res.status, JSON.stringify(res.body)).toBe(200);
		expect(res.body.items.length).toBeLessThanOrEqual(limit);
		seen.push(...res.body.items.map(key));
		cursor = res.body.nextCursor;
		if (cursor === null) return seen;
		expect(pages, 'pages never end').toBeLessThan(10_000);
	}
}

function expectEachOnce(seen: string[], expected: string[]): void {
	expect(new Set(seen).size, 'an item came twice').toBe(seen.length);
	expect([...seen].sort()).toEqual([...expected].sort());
}

const byId = (item: { id?: string }) => item.id as string;
const byName = (item: { name?: string }) => item.name as string;

describe('tasks', () => {
	const ids: string[] = [];

	beforeAll(async () => {
		expect((await te.api('POST', '/v1/queues', { name: 'paged' })).status).toBe(201);
		expect((await te.api('POST', '/v1/queues', { name: 'other' })).status).toBe(201);
		for (let bulk = 0; bulk < 3; bulk++) {
			const tasks = Array.from({ length: 1000 }, (_, i) => ({ queue: 'paged', name: 'page', payload: { bulk, i } }));
			const res = await te.api<{ items: { id: string }[] }>('POST', '/v1/tasks/bulk', { tasks });
			expect(res.status).toBe(201);
			ids.push(...res.body.items.map((t) => t.id));
		}
		// Tasks of another queue interleave in time and must not leak into a filtered list.
		await te.api('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: 50 }, () => ({ queue: 'other', name: 'page' })) });
	});

	it('pages 3 bulks of 1,000 (each bulk one created_at) completely', async () => {
		const { rows } = await te.engine.pool.query<{ n: number }>(`SELECT count(DISTINCT created_at)::int AS n FROM tasks WHERE queue = 'paged'`);
		expect(rows[0].n, 'each bulk shares one created_at').toBe(3);
		expectEachOnce(await pageAll('/v1/tasks?queue=paged', 7, byId), ids);
		expectEachOnce(await pageAll('/v1/tasks?queue=paged&state=queued&name=page', 500, byId), ids);
	});

	it('pages 3,050 tasks that share one created_at to the microsecond', async () => {
		await te.engine.pool.query(`UPDATE tasks SET created_at = $1`, [TIE]);
		const all = (await te.engine.pool.query<{ id: string }>('SELECT id FROM tasks')).rows.map((r) => r.id);
		expect(all.length).toBe(3050);
		expectEachOnce(await pageAll('/v1/tasks', 13, byId), all);
		expectEachOnce(await pageAll('/v1/tasks?queue=paged', 250, byId), ids);
	});
});

describe('batches', () => {
	it('pages batches that share one created_at', async () => {
		await te.api('POST', '/v1/queues', { name: 'batched' });
		const ids: string[] = [];
		for (let i = 0; i < 25; i++) {
			const res = await te.api<{ id: string }>('POST', '/v1/batches', { queue: 'batched', name: 'b', chunkSize: 1, open: true });
			expect(res.status).toBe(202);
			ids.push(res.body.id);
		}
		await te.engine.pool.query(`UPDATE batches SET created_at = $1`, [TIE]);
		expectEachOnce(await pageAll('/v1/batches', 3, byId), ids);
		expectEachOnce(await pageAll('/v1/batches?queue=batched&state=open', 4, byId), ids);
	});
});

describe('queues and schedules (by name)', () => {
	// Names whose order depends on the collation's handling of punctuation and case.
	const names = ['a', 'A', 'a-b', 'ab', 'a.b', 'a_b', 'a..', '-x', '_y', 'Z9', '0', 'a-', 'a--b', 'AB', 'aB', 'x.y.z', 'q1', 'q10', 'q2'];

	it('pages queues by name, each once', async () => {
		for (const name of names) expect((await te.api('POST', '/v1/queues', { name })).status, name).toBe(201);
		await te.engine.pool.query(`UPDATE queues SET created_at = $1`, [TIE]);
		const all = (await te.engine.pool.query<{ name: string }>('SELECT name FROM queues')).rows.map((r) => r.name);
		expectEachOnce(await pageAll('/v1/queues', 2, byName), all);
	});

	it('pages schedules by name, each once, long multi-byte names included', async () => {
		const scheduleNames = [...names, 'with space', 'ü'.repeat(200), '😀'.repeat(200), 'x'.repeat(200), 'ñ', 'n', 'N'];
		for (const name of scheduleNames) {
			const res = await te.api('POST', '/v1/schedules', { name, queue: 'paged', everySeconds: 3600, paused: true });
			expect(res.status, JSON.stringify(res.body)).toBe(201);
		}
		await te.engine.pool.query(`UPDATE schedules SET created_at = $1`, [TIE]);
		expectEachOnce(await pageAll('/v1/schedules', 1, byName), scheduleNames);
		expectEachOnce(await pageAll('/v1/schedules?queue=paged', 4, byName), scheduleNames);
	});
});

describe('handlers', () => {
	it("lists every handler of a queue once, also when they share one created_at", async () => {
		await te.api('POST', '/v1/queues', { name: 'handled' });
		const ids: string[] = [];
		for (let i = 0; i < 60; i++) {
			const res = await te.api<{ id: string }>('POST', '/v1/queues/handled/handlers', { url: `http://127.0.0.1:${closedPort}/h/${i}` });
			expect(res.status).toBe(201);
			ids.push(res.body.id);
		}
		await te.engine.pool.query(`UPDATE handlers SET created_at = $1`, [TIE]);
		const res = await te.api<Page>('GET', '/v1/queues/handled/handlers');
		expect(res.status).toBe(200);
		expect(res.body.nextCursor).toBeNull();
		expectEachOnce(res.body.items.map(byId), ids);
	});
});

describe('forged cursors', () => {
	const cursor = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
	const uuid = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
	const forged: [string, string][] = [
		['/v1/tasks', cursor({ t: 'garbage', i: uuid })],
		['/v1/tasks', cursor({ t: '1'.repeat(17), i: uuid })],
		['/v1/tasks', cursor({ t: '1700000000000000', i: '------------------------------------' })],
		['/v1/tasks', cursor({ c: '2026-01-01T00:00:00.000Z', i: uuid })],
		['/v1/tasks', cursor({ t: 1700000000000000, i: uuid })],
		['/v1/tasks', cursor([1, 2])],
		['/v1/tasks', cursor('null')],
		['/v1/tasks', 'not base64 json at all'],
		['/v1/batches', cursor({ t: '-5', i: uuid })],
		['/v1/batches', cursor({ t: '1700000000000000', i: `urn:uuid:${uuid}` })],
		['/v1/schedules', cursor('a\u0000')],
		['/v1/schedules', cursor({ n: 'a\u0000b' })],
		['/v1/schedules', cursor('{"n":"\\ud800"}')],
		['/v1/schedules', cursor({ n: 'a/b' })],
		['/v1/schedules', cursor({ n: '' })],
		['/v1/schedules', cursor({ n: 'x'.repeat(201) })],
		['/v1/schedules', cursor({ n: 42 })],
		['/v1/queues', cursor({ n: 'a b' })],
		['/v1/queues', cursor({ n: 'a\u0000' })],
		['/v1/queues', cursor('plain-name')],
	];

	it.each(forged)('%s?cursor=%s is a 400 naming cursor', async (url, value) => {
		const res = await te.api('GET', `${url}?cursor=${encodeURIComponent(value)}`);
		expect(res.status, JSON.stringify(res.body)).toBe(400);
		expect(res.body.error.code).toBe('invalid_request');
		expect(res.body.error.details[0].field).toMatch(/cursor/);
		expect(res.body.error.message).toMatch(/cursor/);
	});
});
