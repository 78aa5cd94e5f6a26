// Queue health at scale (issue 5): fills a fresh schema with 1,000,000 tasks and their attempts by
// set-based SQL, ANALYZEs, and times the health endpoints and /metrics over real HTTP.
// Target: GET /v1/queues/{name}/health answers in < 50 ms with 1M tasks in the table.
//
//   npm run build -w engine
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/health1m.mjs
//
// Settings (environment): TASKS (1000000), RUNS (50 timed requests per endpoint), ENGINE_DIST
// (engine/dist), KEEP=1 keeps the schema for a look with psql, SCHEMA=<kept schema> times a kept one
// again without filling it. The engine runs in this process
// without background work (no dispatcher, rescuer or retention), so the data stays as generated.
//
// The data: 15 queues, q00 holds 40 % of the tasks (q14 has no handler). Two shapes (SHAPE=…):
//   steady (default) — what 1M tasks are at steady state with the default 7-day retention:
//     88 % completed evenly over 7 days (about 2,100 an hour in q00), 3 % dead letters over 30 days
//     (3 attempts each), 1.5 % cancelled, 0.5 % due and waiting, 6.2 % scheduled within a day,
//     0.78 % retrying, 0.02 % active (started in the 2 minutes before the fill: stuck by the time it is timed).
//   burst — the same million in a bad hour: 15 % of the completions within the last hour (about
//     50,000 in q00), a backlog of 40,000 due tasks, 2,000 active. Every figure is an exact count
//     over an index range, so this costs what that hour holds, not what the table holds.
// One attempt per completed/retrying task, three per failed one: about 0.98M attempts.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const env = process.env;
const DATABASE_URL = env.DATABASE_URL ?? env.TEST_DATABASE_URL;
if (!DATABASE_URL) {
	console.error('health1m: set DATABASE_URL (a PostgreSQL the bench may create schemas in)');
	process.exit(2);
}
const TASKS = Number(env.TASKS ?? 1_000_000);
const SHAPE = env.SHAPE ?? 'steady';
// Upper bounds of g % 10000 per state, and the share of completions within the last hour.
const SHAPES = {
	steady: { completed: 8800, failed: 9100, cancelled: 9250, due: 9300, scheduled: 9920, retrying: 9998, recentShare: 0 },
	burst: { completed: 8800, failed: 9100, cancelled: 9250, due: 9650, scheduled: 9900, retrying: 9980, recentShare: 0.15 },
};
const k = SHAPES[SHAPE];
if (!k) {
	console.error(`health1m: SHAPE must be one of ${Object.keys(SHAPES).join(', ')}`);
	process.exit(2);
}
const RUNS = Number(env.RUNS ?? 50);
const ENGINE_DIST = path.resolve(root, env.ENGINE_DIST ?? 'engine/dist');
const API_KEY = `bench-${randomBytes(12).toString('hex')}`;
const reuse = env.SCHEMA !== undefined;
const schema = env.SCHEMA ?? `bench_health_${randomBytes(4).toString('hex')}`;

const { createEngine } = await import(pathToFileURL(path.join(ENGINE_DIST, 'app.js')).href);
const { loadConfig } = await import(pathToFileURL(path.join(ENGINE_DIST, 'config.js')).href);
const { silentLogger } = await import(pathToFileURL(path.join(ENGINE_DIST, 'log.js')).href);

const config = loadConfig({ DATABASE_URL, DATABASE_SCHEMA: schema, API_KEYS: API_KEY, PORT: '0', LOG_LEVEL: 'warn' });
const engine = await createEngine(config, silentLogger(), { background: false });
const admin = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
await admin.connect();

async function timed(label, sql) {
	const t0 = performance.now();
	await admin.query(sql);
	console.log(`  ${label.padEnd(44)} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function fill() {
	console.log(`filling ${schema} with ${TASKS.toLocaleString('en-US')} tasks, shape ${SHAPE}`);
	await timed('queues and handlers', `
		INSERT INTO queues (name, secret) SELECT 'q' || lpad(i::text, 2, '0'), 'whsec_' || md5(i::text) FROM generate_series(0, 14) i;
		-- two production handlers per queue, except q14: its due tasks have nobody (no_handler)
		INSERT INTO handlers (id, queue, url, secret, healthy)
		SELECT md5(q.name || h)::uuid, q.name, 'http://127.0.0.1:9/' || q.name || '/' || h, 'whsec_x', h = 1 OR q.name <> 'q03'
		FROM queues q CROSS JOIN generate_series(1, 2) h WHERE q.name <> 'q14';`);
	await timed('tasks (set-based INSERT … SELECT)', `
		INSERT INTO tasks (id, queue, name, state, payload, priority, retry, timeout_seconds, due_at, created_at, started_at, finished_at,
		  attempt_count, last_error, last_status_code, lease_expires_at)
		SELECT gen_random_uuid(), x.queue, 'bench', x.state, '{"n":1}', 0, '{"limit":3,"delaySeconds":60,"backoff":"exponential","maxDelaySeconds":3600}',
		  60, x.due, x.due - interval '1 second', x.started, CASE WHEN x.state = 'retrying' THEN NULL ELSE x.finished END,
		  CASE x.state WHEN 'failed' THEN 3 WHEN 'completed' THEN 1 WHEN 'retrying' THEN 1 WHEN 'active' THEN 1 ELSE 0 END,
		  CASE WHEN x.state IN ('failed', 'retrying') THEN 'HTTP 500' END, CASE WHEN x.state IN ('failed', 'retrying') THEN 500 END,
		  CASE WHEN x.state = 'active' THEN x.started + interval '90 seconds' END
		FROM (
		  SELECT s.queue, s.state, s.finished, s.started,
		    CASE
		      WHEN s.state = 'queued' AND s.r < ${k.due} THEN now() - random() * interval '10 minutes'
		      WHEN s.state = 'queued' THEN now() + random() * interval '1 day'
		      WHEN s.state = 'retrying' THEN now() + random() * interval '1 hour'
		      WHEN s.state = 'cancelled' THEN s.finished - interval '1 hour'
		      ELSE s.started - interval '5 milliseconds' - random() * random() * interval '2 seconds'
		    END AS due
		  FROM (
		    SELECT f.*, CASE WHEN f.state = 'active' THEN now() - random() * interval '2 minutes'
		      WHEN f.state IN ('completed', 'failed', 'retrying') THEN f.finished - random() * interval '1 second'
		      WHEN f.state = 'cancelled' THEN NULL END AS started
		    FROM (
		      SELECT CASE WHEN g % 24 < 10 THEN 'q00' ELSE 'q' || lpad((g % 24 - 9)::text, 2, '0') END AS queue, g % 10000 AS r,
		        CASE WHEN g % 10000 < ${k.completed} THEN 'completed' WHEN g % 10000 < ${k.failed} THEN 'failed'
		          WHEN g % 10000 < ${k.cancelled} THEN 'cancelled' WHEN g % 10000 < ${k.scheduled} THEN 'queued'
		          WHEN g % 10000 < ${k.retrying} THEN 'retrying' ELSE 'active' END AS state,
		        CASE WHEN g % 10000 < ${k.completed}
		            THEN now() - CASE WHEN random() < ${k.recentShare} THEN random() * interval '1 hour' ELSE random() * interval '7 days' END
		          WHEN g % 10000 < ${k.failed} THEN now() - random() * interval '30 days'
		          WHEN g % 10000 < ${k.cancelled} THEN now() - random() * interval '7 days'
		          WHEN g % 10000 >= ${k.scheduled} AND g % 10000 < ${k.retrying} THEN now() - random() * interval '30 minutes' END AS finished
		      FROM generate_series(1, ${TASKS}) g
		    ) f
		  ) s
		) x;`);
	await timed('attempts (set-based, one to three per task)', `
		INSERT INTO attempts (task_id, queue, number, started_at, due_at, duration_ms, outcome, status_code, error_class, error, handler_id)
		SELECT t.id, t.queue, n, t.started_at - (t.attempt_count - n) * interval '2 minutes',
		  -- a retrying task's due_at is its next attempt; its last one was due just before it started
		  CASE WHEN t.state = 'retrying' THEN t.started_at - interval '50 milliseconds' ELSE t.due_at END - (t.attempt_count - n) * interval '2 minutes',
		  (20 + random() * random() * 2000)::int,
		  CASE WHEN t.state = 'completed' THEN 'delivered' WHEN t.state = 'failed' AND n = 3 THEN 'failed' ELSE 'retry' END,
		  CASE WHEN t.state = 'completed' THEN 200 ELSE 500 END, NULL, CASE WHEN t.state <> 'completed' THEN 'HTTP 500' END,
		  md5(t.queue || (1 + n % 2))::uuid
		FROM tasks t CROSS JOIN LATERAL generate_series(1, t.attempt_count) n
		WHERE t.state IN ('completed', 'failed', 'retrying');
		-- one in twenty of the last hour's failed attempts was a delivery lost and recovered by the rescuer
		UPDATE attempts SET error_class = 'lost', duration_ms = NULL, outcome = 'retry', status_code = NULL, handler_id = NULL
		WHERE started_at > now() - interval '1 hour' AND outcome = 'retry' AND random() < 0.05;`);
}

function summary(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
	return { p50: at(50), p95: at(95), max: sorted[sorted.length - 1] };
}

async function timeEndpoints(title) {
	const address = engine.server.server.address();
	const base = `http://127.0.0.1:${address.port}`;
	const get = async (url) => {
		const t0 = performance.now();
		const res = await fetch(base + url, { headers: { authorization: `Bearer ${API_KEY}` } });
		const body = await res.text();
		if (res.status !== 200) throw new Error(`GET ${url} → ${res.status} ${body}`);
		return { ms: performance.now() - t0, body };
	};
	console.log(`\n${title}`);
	console.log(`  ${'endpoint'.padEnd(44)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)}`);
	const endpoints = ['/v1/queues/q00/health', '/v1/queues/q07/health', '/v1/queues/q14/health', '/v1/health/queues', '/metrics'];
	for (const url of endpoints) {
		for (let i = 0; i < 5; i++) await get(url); // warm-up: connections, plans, caches
		const times = [];
		for (let i = 0; i < RUNS; i++) times.push((await get(url)).ms);
		const s = summary(times);
		console.log(`  ${('GET ' + url).padEnd(44)} ${s.p50.toFixed(1).padStart(6)} ms ${s.p95.toFixed(1).padStart(6)} ms ${s.max.toFixed(1).padStart(6)} ms`);
	}
	return get;
}

try {
	await engine.server.listen({ host: '127.0.0.1', port: 0 });
	const t0 = performance.now();
	if (reuse) console.log(`timing the kept schema ${schema}`);
	else await fill();
	await timed('ANALYZE', 'ANALYZE tasks; ANALYZE attempts; ANALYZE handlers; ANALYZE queues');
	if (!reuse) console.log(`  filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
	const { rows } = await admin.query(`SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM attempts) AS attempts,
	  pg_size_pretty(pg_total_relation_size('tasks')) AS tasks_size, pg_size_pretty(pg_total_relation_size('attempts')) AS attempts_size`);
	console.log(`  ${JSON.stringify(rows[0])}`);

	const get = await timeEndpoints('after ANALYZE (visibility map not yet set: fresh rows, as before autovacuum runs)');
	const sample = JSON.parse((await get('/v1/queues/q00/health')).body);
	console.log(`\n  q00: ${JSON.stringify({ status: sample.status, counts: sample.counts, deadLetters: sample.deadLetters, stuck: sample.stuck.count, failuresLastHour: sample.failuresLastHour, recovered: sample.recovered, throughputPerMinute: sample.throughputPerMinute, durationMs: sample.durationMs, latenessMs: sample.latenessMs, handlers: sample.handlers })}`);

	await timed('\nVACUUM tasks (what autovacuum does in production)', 'VACUUM tasks');
	await timed('VACUUM attempts', 'VACUUM attempts');
	await timeEndpoints('after VACUUM');
} finally {
	await admin.end();
	await engine.stop();
	if (env.KEEP !== '1' && !reuse) {
		const client = new pg.Client({ connectionString: DATABASE_URL });
		await client.connect();
		await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
		await client.query(`DROP SCHEMA IF EXISTS "${schema}_pgboss" CASCADE`);
		await client.end();
	} else {
		console.log(`kept schema ${schema}`);
	}
}
