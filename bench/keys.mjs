// 9. Flow control (issue 13): what per-key limits cost the claim, at the default queue concurrency
// (10) with an instant handler, against the no-key figure of the same run.
// - no key, then every task its own key on a queue of keyConcurrency 1 (the key checks run for
//   every claimed task, but none ever waits): deliveries/s and the ratio;
// - one hot key among idle ones: `hot` tasks of one key enqueued first into a running queue (one
//   runs, the rest park), then `others` tasks each with its own key; their deliveries/s and pickup
//   latency against the same `others` without keys and without the hot line on a fresh engine.
//   A parked task holds no pg-boss job: the job table's `created` rows are counted to show it.
// Claim work: index entries and heap rows read per delivery in the engine's two schemas
// (pg_stat_user_indexes / pg_stat_user_tables), so a claim that scanned the backlog would show.
import { analyze, quoteIdent } from './database.mjs';
import { rawDeliveryRun } from './deliveryRun.mjs';
import { DEFAULT_CONCURRENCY, rawSameConcurrency } from './delivery.mjs';
import { engineBulkEnqueue } from './enqueueBulk.mjs';
import { startEngine } from './engineProcess.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { startReceiver } from './receiver.mjs';
import { fmtLatency, fmtRate, latencySummary, perSecond, sleep, waitFor } from './stats.mjs';

const QUEUE = 'bench-keys';
const DELIVERY_TIMEOUT_MS = 120_000;
/** A backend flushes its table statistics when idle for 10 s (PGSTAT_IDLE_INTERVAL): wait that out. */
const STATS_FLUSH_MS = 11_000;

/** Index entries and heap rows read by seq scan so far, per table, in the engine's schema and its pg-boss schema. */
async function readsSoFar(pool, schema) {
	const { rows } = await pool.query(
		`SELECT t.schemaname = $1 AS ours, t.relname,
		   COALESCE((SELECT sum(idx_tup_read) FROM pg_stat_user_indexes i WHERE i.relid = t.relid), 0)::bigint AS idx, t.seq_tup_read AS seq
		 FROM pg_stat_user_tables t WHERE t.schemaname IN ($1, $2)`,
		[schema, `${schema}_pgboss`],
	);
	return new Map(rows.map((r) => [`${r.ours ? '' : 'pg-boss '}${r.relname}`, { ours: r.ours, idx: Number(r.idx), seq: Number(r.seq) }]));
}

/** A line on the reads between two `readsSoFar`, per delivery, naming the tables read by seq scan. */
function readsLine(before, after, deliveries) {
	const per = (n) => (n / Math.max(1, deliveries)).toFixed(1);
	const sum = { ours: { idx: 0, seq: 0 }, boss: { idx: 0, seq: 0 } };
	const seqTables = [];
	for (const [name, a] of after) {
		const b = before.get(name) ?? { idx: 0, seq: 0 };
		const side = a.ours ? sum.ours : sum.boss;
		side.idx += a.idx - b.idx;
		side.seq += a.seq - b.seq;
		if (a.seq - b.seq >= deliveries) seqTables.push(`${name} ${per(a.seq - b.seq)}`);
	}
	return (
		`reads per delivery (${deliveries} deliveries): engine schema ${per(sum.ours.idx)} index entries + ${per(sum.ours.seq)} rows by seq scan;` +
		` pg-boss schema ${per(sum.boss.idx)} + ${per(sum.boss.seq)}${seqTables.length ? ` (seq-scanned ≥ 1 row per delivery: ${seqTables.join(', ')})` : ''}`
	);
}

const counted = async (pool, sql, params) => (await pool.query(sql, params)).rows[0].n;
const completed = (pool, schema) => counted(pool, `SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.tasks WHERE queue = $1 AND state = 'completed'`, [QUEUE]);
const parked = (pool, schema) => counted(pool, `SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.tasks WHERE queue = $1 AND parked`, [QUEUE]);
const createdJobs = (pool, schema) => counted(pool, `SELECT count(*)::int AS n FROM ${quoteIdent(`${schema}_pgboss`)}.job WHERE name = $1 AND state = 'created'`, [QUEUE]);

/** A fresh engine with a queue of `queueOptions` handled by a fresh instant receiver; `fn(engine, receiver)`. */
async function withEngine(ctx, queueOptions, fn) {
	const receiver = await startReceiver();
	const engine = await startEngine(ctx).catch(async (error) => {
		await receiver.close();
		throw error;
	});
	try {
		await engine.call('POST', '/v1/queues', { name: QUEUE, concurrency: DEFAULT_CONCURRENCY, ...queueOptions });
		await engine.call('POST', `/v1/queues/${QUEUE}/handlers`, { url: receiver.url });
		return await fn(engine, receiver);
	} finally {
		await engine.stop();
		await receiver.close();
	}
}

/** `total` tasks (`keyOf(i)` their key, or none) wait in a paused queue; resumed, timed until all are completed. */
function throughputRun(ctx, { label, total, keyOf = null, keyConcurrency = null }) {
	return withEngine(ctx, { paused: true, keyConcurrency }, async (engine, receiver) => {
		await engineBulkEnqueue(engine, QUEUE, total, keyOf ? (i) => ({ concurrencyKey: keyOf(i) }) : undefined);
		await analyze(ctx.pool, engine.schema, 'tasks');
		await analyze(ctx.pool, `${engine.schema}_pgboss`, 'job');
		const before = await readsSoFar(ctx.pool, engine.schema);
		const began = performance.now();
		await engine.call('POST', `/v1/queues/${QUEUE}/resume`);
		await receiver.waitForCount(total, DELIVERY_TIMEOUT_MS);
		let done = 0;
		await waitFor(async () => (done = await completed(ctx.pool, engine.schema)) >= total, DELIVERY_TIMEOUT_MS, 10);
		const rate = perSecond(done, performance.now() - began);
		await sleep(STATS_FLUSH_MS);
		const reads = readsLine(before, await readsSoFar(ctx.pool, engine.schema), done);
		console.log(`  engine  ${label}: ${done} of ${total} completed → ${fmtRate(rate)}; ${reads}`);
		return { rate, done };
	});
}

/**
 * `hot` tasks of key "hot" into the running queue of keyConcurrency 1, then (once none of them
 * holds a created job) `others` tasks each with its own key in one bulk call, timed from that call
 * to the last of them arriving. hot = 0 and no keys: the same shape's baseline.
 */
function hotKeyRun(ctx, { label, hot, others, keyed }) {
	return withEngine(ctx, { keyConcurrency: keyed ? 1 : null }, async (engine, receiver) => {
		const pool = ctx.pool;
		const schema = engine.schema;
		let parkedBefore = 0;
		if (hot > 0) {
			await engineBulkEnqueue(engine, QUEUE, hot, () => ({ concurrencyKey: 'hot' }));
			await waitFor(async () => (await createdJobs(pool, schema)) === 0, DELIVERY_TIMEOUT_MS, 20);
			parkedBefore = await parked(pool, schema);
		}
		await analyze(pool, schema, 'tasks');
		const before = await readsSoFar(pool, schema);
		const doneBefore = await completed(pool, schema);
		// Sampled while the others are delivered: parked hot tasks and the queue's created jobs.
		const samples = { parked: [], created: [] };
		let sampling = true;
		const sampler = (async () => {
			while (sampling) {
				samples.parked.push(await parked(pool, schema));
				samples.created.push(await createdJobs(pool, schema));
				await sleep(100);
			}
		})();
		const tasks = Array.from({ length: others }, (_, i) => ({ queue: QUEUE, name: 'noop', payload: { i }, ...(keyed ? { concurrencyKey: `idle-${i}` } : {}) }));
		const began = performance.now();
		const { items } = await engine.call('POST', '/v1/tasks/bulk', { tasks }, [201]);
		await waitFor(() => items.every((t) => receiver.arrivals.has(t.id)), DELIVERY_TIMEOUT_MS, 5);
		const lastAt = Math.max(...items.map((t) => receiver.arrivals.get(t.id)?.at ?? 0));
		const firstCreated = Math.min(...items.map((t) => Date.parse(t.createdAt)));
		sampling = false;
		await sampler;
		const arrived = items.filter((t) => receiver.arrivals.has(t.id));
		const rate = perSecond(arrived.length, lastAt - firstCreated);
		const pickup = latencySummary(arrived.map((t) => receiver.arrivals.get(t.id).at - Date.parse(t.createdAt)));
		const hotDelivered = receiver.unique - arrived.length;
		const elapsedMs = performance.now() - began;
		await sleep(STATS_FLUSH_MS);
		const reads = readsLine(before, await readsSoFar(pool, schema), (await completed(pool, schema)) - doneBefore);
		console.log(
			`  engine  ${label}: ${arrived.length} of ${others} delivered → ${fmtRate(rate)} (first createdAt → last arrival); pickup ${fmtLatency(pickup)}` +
				(hot > 0 ? `; hot tasks delivered so far ${hotDelivered} (one at a time, ${fmtRate(perSecond(hotDelivered, elapsedMs))} since the others' enqueue)` : ''),
		);
		if (hot > 0) {
			console.log(
				`  engine  hot line: ${parkedBefore} of ${hot} hot tasks parked before the others came, the queue's created pg-boss jobs then 0;` +
					` while the others ran: parked ${Math.min(...samples.parked)}–${Math.max(...samples.parked)}, created jobs at most ${Math.max(...samples.created)} (${samples.created.length} samples)`,
			);
		}
		console.log(`  engine  ${reads}`);
		return { rate, pickup, parkedBefore, maxCreated: hot > 0 ? Math.max(...samples.created) : null };
	});
}

export async function measureKeys(ctx, { tasks, manyKeys, hot, others }) {
	const raw = await startRawBoss(ctx);
	const settings = rawSameConcurrency(DEFAULT_CONCURRENCY);
	let rawRun;
	try {
		rawRun = { ...settings, ...(await rawDeliveryRun(raw, { total: tasks, ...settings })) };
	} finally {
		await raw.stop();
	}
	const noKey = await throughputRun(ctx, { label: `${tasks} tasks, no key`, total: tasks });
	const ofNoKey = (rate) => `${(rate / noKey.rate).toFixed(2)}× no key`;
	const distinct = await throughputRun(ctx, { label: `${tasks} tasks, ${tasks} distinct keys, keyConcurrency 1`, total: tasks, keyOf: (i) => `k-${i}`, keyConcurrency: 1 });
	console.log(`  engine  distinct keys: ${ofNoKey(distinct.rate)}`);
	let many = null;
	if (manyKeys) {
		many = await throughputRun(ctx, { label: `${manyKeys} tasks, ${manyKeys} distinct keys, keyConcurrency 1`, total: manyKeys, keyOf: (i) => `k-${i}`, keyConcurrency: 1 });
		console.log(`  engine  ${manyKeys} distinct keys: ${ofNoKey(many.rate)}`);
	}
	const plain = await hotKeyRun(ctx, { label: `${others} tasks without key into an idle running queue`, hot: 0, others, keyed: false });
	const hotRun = await hotKeyRun(ctx, { label: `${others} tasks, own keys, behind ${hot} parked tasks of key "hot"`, hot, others, keyed: true });
	console.log(
		`  engine  hot key: the others at ${ofNoKey(hotRun.rate)} (${(hotRun.rate / plain.rate).toFixed(2)}× the same enqueue without keys);` +
			` pickup p99 ${(hotRun.pickup.p99 / plain.pickup.p99).toFixed(2)}× without keys`,
	);
	return { tasks, manyKeys, hot, others, raw: rawRun, noKey, distinct, many, plain, hotRun };
}
