import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { startEngineProcess, type EngineProcess } from '../e2e/engineProcess.js';
import { dropSchema, freshSchema } from '../helpers/engine.js';
import type { Reply } from '../helpers/receiver.js';
import { API_KEY, countByState, openSchema, REPO_DIR, report, scratchDir, startCountingHandler, waitFor } from './support.js';

/**
 * Handlers answer bytes nobody planned for: a JSON `\u0000` escape, a raw NUL byte, a lone UTF-16
 * surrogate, invalid UTF-8, 16,000 levels of nesting, a 50 MB body, and a 500 whose body holds a NUL.
 * PostgreSQL cannot store some of these as they are. Mixed with normal traffic, they must not make
 * any other task's result be undone: every normal task is delivered exactly once.
 */
const NORMAL = 600;
const PER_KIND = 15;
const json = (text: string): Reply => ({ body: text });
const POISON: Record<string, (firstTime: boolean) => Reply> = {
	jsonNulEscape: () => json('{"text":"a\\u0000b","\\u0000key":1}'),
	rawNulByte: () => ({ body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0x00, 0x22, 0x7d]), headers: { 'content-type': 'text/plain' } }),
	loneSurrogate: () => json('{"text":"\\ud800 alone","\\udc00":"key"}'),
	invalidUtf8: () => ({ body: Buffer.from([0x7b, 0x7d, 0xff, 0xfe, 0xc3, 0x28]), headers: { 'content-type': 'text/plain' } }),
	deepNesting: () => json('['.repeat(16_000) + ']'.repeat(16_000)),
	hugeBody: () => ({ body: Buffer.alloc(50 * 1024 * 1024, 0x61) }),
	// A failing answer with a NUL: its attempt's snippet is stored, then the retry completes.
	errorWithNul: (firstTime) => (firstTime ? { status: 500, body: 'boom\u0000boom' } : json('{"ok":true}')),
};

const databaseUrl = inject('databaseUrl');
const schema = freshSchema();
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let engine: EngineProcess | undefined;

beforeAll(async () => {
	scratch = await scratchDir('bt-poison-');
});

afterAll(async () => {
	await engine?.stop();
	await dropSchema(schema);
	await scratch.remove();
});

test('poison answers are stored safely and never undo or repeat other deliveries', async () => {
	const kindOf = new Map<string, string>();
	const seen = new Set<string>();
	const handler = await startCountingHandler({
		seed: 3,
		minMs: 1,
		maxMs: 20,
		answer: (id) => {
			const kind = kindOf.get(id);
			if (!kind) return null;
			const firstTime = !seen.has(id);
			seen.add(id);
			return POISON[kind](firstTime);
		},
	});
	engine = await startEngineProcess({ repoDir: REPO_DIR, databaseUrl, schema, apiKey: API_KEY, logDir: scratch.dir, env: { LOG_LEVEL: 'warn' } });
	const db = await openSchema(databaseUrl, schema);
	try {
		expect((await engine.api('POST', '/v1/queues', { name: 'poison', concurrency: 50, retry: { delaySeconds: 1 } })).status).toBe(201);
		// Poison tasks are spread through the normal ones, so every settlement group holds some of both.
		const kinds = Object.keys(POISON);
		const plan = Array.from({ length: NORMAL + kinds.length * PER_KIND }, (_, i) => (i % 5 === 0 && Math.floor(i / 5) < kinds.length * PER_KIND ? kinds[Math.floor(i / 5) % kinds.length] : null));
		const tasks = plan.map((kind, n) => ({ queue: 'poison', name: kind ?? 'normal', url: handler.url, payload: { n } }));
		// Bulk enqueue returns the ids in order: the handler learns which ids are poison before any delivery.
		await engine.api('POST', '/v1/queues/poison/pause');
		const created = await engine.api('POST', '/v1/tasks/bulk', { tasks });
		expect(created.status).toBe(201);
		created.body.items.forEach((t: { id: string }, i: number) => plan[i] && kindOf.set(t.id, plan[i]!));
		await engine.api('POST', '/v1/queues/poison/resume');

		const final = await waitFor('every task final', 120_000, async () => {
			const counts = await countByState(db);
			return (counts.completed ?? 0) + (counts.failed ?? 0) === tasks.length ? counts : false;
		});

		const normalIds = created.body.items.filter((_: unknown, i: number) => plan[i] === null).map((t: { id: string }) => t.id);
		const normalDeliveries = normalIds.map((id: string) => handler.deliveries.get(id) ?? 0);
		const stored = async (kind: string) => {
			const id = [...kindOf].find(([, k]) => k === kind)![0];
			const { rows } = await db.query(
				`SELECT t.state, t.result, a.status_code AS "statusCode", left(a.response_snippet, 40) AS snippet, length(a.response_snippet) AS "snippetLength"
				 FROM tasks t JOIN attempts a ON a.task_id = t.id WHERE t.id = $1 ORDER BY a.number`,
				[id],
			);
			return rows;
		};
		const nul = await stored('jsonNulEscape');
		const rawNul = await stored('rawNulByte');
		const surrogate = await stored('loneSurrogate');
		const errorNul = await stored('errorWithNul');
		const { rows: byKind } = await db.query<{ name: string; state: string; attempts: number; n: number }>(
			`SELECT name, state, attempt_count AS attempts, count(*)::int AS n FROM tasks GROUP BY 1, 2, 3 ORDER BY 1`,
		);

		report('poison answers', {
			tasks: tasks.length,
			normal: NORMAL,
			poison: kinds.length * PER_KIND,
			completed: final.completed ?? 0,
			failed: final.failed ?? 0,
			requests: handler.totalRequests(),
			normalDeliveredOnce: normalDeliveries.filter((n: number) => n === 1).length,
			byKind: byKind.map((r) => `${r.name}:${r.state}x${r.n}@${r.attempts}`).join(','),
		});
		report('stored for a NUL-bearing answer', { result: nul[0].result, snippet: nul[0].snippet });

		expect(normalDeliveries.every((n: number) => n === 1)).toBe(true);
		expect(final.completed).toBe(tasks.length);
		// What is kept: NUL and lone surrogates become U+FFFD in results, keys and snippets.
		expect(nul[0].result).toEqual({ text: 'a\uFFFDb', '\uFFFDkey': 1 });
		expect(nul).toHaveLength(1);
		expect(rawNul[0].result).toBeNull();
		expect(rawNul[0].snippet).toBe('{"a":"\uFFFD"}');
		expect(surrogate[0].result).toEqual({ text: '\uFFFD alone', '\uFFFD': 'key' });
		expect(errorNul.map((a) => a.statusCode)).toEqual([500, 200]);
		expect(errorNul[0].snippet).toBe('boom\uFFFDboom');
		// Poison tasks themselves were answered 200 once each and completed on their first attempt.
		for (const row of byKind.filter((r) => r.name !== 'normal' && r.name !== 'errorWithNul')) expect(row).toMatchObject({ state: 'completed', attempts: 1 });
	} finally {
		await db.end();
		await handler.close();
	}
});
