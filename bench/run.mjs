// The engine benchmark (`npm run bench`): each measurement against raw pg-boss in the same run on
// the same database, then a summary with the targets of issue 3. See `node bench/run.mjs --help`.
import os from 'node:os';
import { cleanupAll } from './cleanup.mjs';
import { openDatabase } from './database.mjs';
import { measureDelayed } from './delayed.mjs';
import { measureDelivery } from './delivery.mjs';
import { measureBulkEnqueue } from './enqueueBulk.mjs';
import { measureSingleEnqueue } from './enqueueSingle.mjs';
import { measurePickup } from './pickup.mjs';
import { fmtMiB, fmtMs, fmtRate, probeRoundTrip } from './stats.mjs';

const SIZES = {
	full: { enqueue: { warmup: 500, count: 5000 }, bulk: { calls: 20 }, delivery: { total: 20_000 }, pickup: { samples: 300, pollingSamples: 60 }, delayed: { count: 300 } },
	quick: { enqueue: { warmup: 200, count: 2000 }, bulk: { calls: 8 }, delivery: { total: 5000 }, pickup: { samples: 100, pollingSamples: 20 }, delayed: { count: 100 } },
};
const MEASUREMENTS = ['enqueue', 'bulk', 'delivery', 'pickup', 'delayed'];
/** The whole run is bounded: past this, everything is stopped and the run fails. */
const RUN_LIMIT_MS = 8 * 60_000;

const HELP = `Usage: node bench/run.mjs [--quick] [--only ${MEASUREMENTS.join(',')}] [--count-queries] [--cpu-prof DIR]

Database: BENCH_DATABASE_URL, else an embedded PostgreSQL in a temporary folder.
Each measurement starts the compiled engine (engine/dist; build it first) as a child process in a
fresh schema, and raw pg-boss in another, and drops both at the end.

  enqueue   POST /v1/tasks, 32 keep-alive clients, 5,000 after 500 warm-up, vs boss.send() × 32 in flight
  bulk      POST /v1/tasks/bulk 20 × 1,000 (4 in flight) vs boss.insert() the same way
  delivery  20,000 no-op tasks to a local receiver (queue concurrency 500) vs work() batchSize 100
            (localConcurrency 1 and 4); the engine's RSS peak during it and idle after
  pickup    300 sequential enqueue → delivery (p50/p99) vs send() → work() with LISTEN/NOTIFY (300)
            and with 0.5 s polling (60 samples: each waits a whole interval, see pickup.mjs)
  delayed   300 tasks due in 1–5 s (fixed seed): lateness p50/p99 vs startAfter + 0.5 s polling

--quick shrinks: enqueue 2,000 (+200 warm-up), bulk 8 calls, delivery 5,000 tasks, pickup 100
(polling 20), delayed 100.

Diagnostics (they slow the engine a little; figures taken with them are not the benchmark's):
  --count-queries  print each engine's SQL statements by total client time when it stops
  --cpu-prof DIR   write a CPU profile of each engine process into DIR (open in Chrome DevTools)
`;

function parseArgs(argv) {
	const args = { quick: false, only: MEASUREMENTS, diagnostics: {} };
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === '--help' || arg === '-h') {
			process.stdout.write(HELP);
			process.exit(0);
		} else if (arg === '--quick') args.quick = true;
		else if (arg === '--count-queries') args.diagnostics.countQueries = true;
		else if (arg === '--cpu-prof') {
			args.diagnostics.cpuProfDir = argv[++i];
			if (!args.diagnostics.cpuProfDir) throw new Error('--cpu-prof needs a folder');
		}
		else if (arg === '--only' || arg.startsWith('--only=')) {
			const value = arg.includes('=') ? arg.slice('--only='.length) : argv[++i];
			args.only = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
			const unknown = args.only.filter((m) => !MEASUREMENTS.includes(m));
			if (unknown.length > 0 || args.only.length === 0) throw new Error(`--only takes some of ${MEASUREMENTS.join(',')} (got "${value ?? ''}")`);
		} else throw new Error(`unknown argument "${arg}" (see --help)`);
	}
	return args;
}

const ratio = (engine, raw) => (engine == null || raw == null || raw === 0 ? 'n/a' : `${(engine / raw).toFixed(2)}×`);

function printSummary(r) {
	const rows = [];
	const verdict = (ok) => (ok === null ? '' : ok ? 'met' : 'MISSED');
	if (r.enqueue) {
		const { engineRate, rawRate } = r.enqueue;
		rows.push(['HTTP enqueue, 32 clients (tasks/s)', fmtRate(engineRate), `${fmtRate(rawRate)} send()`, ratio(engineRate, rawRate), '≥ raw send()', verdict(engineRate >= rawRate)]);
	}
	if (r.bulk) {
		const { engineRate, rawRate } = r.bulk;
		rows.push(['Bulk enqueue, 1,000/call (tasks/s)', fmtRate(engineRate), `${fmtRate(rawRate)} insert()`, ratio(engineRate, rawRate), '', '']);
	}
	if (r.delivery) {
		const d = r.delivery;
		rows.push(['Delivery, no-op (tasks/s)', fmtRate(d.engineRate), `${fmtRate(d.rawRate)} work() lc 1`, ratio(d.engineRate, d.rawRate), '≥ 2,000/s', verdict(d.engineRate >= 2000)]);
		rows.push(['  vs work() localConcurrency 4', '', fmtRate(d.rawRate4), ratio(d.engineRate, d.rawRate4), '', '']);
		rows.push(['Engine RSS peak during delivery', fmtMiB(d.rssPeak), '', '', '', '']);
		rows.push(['Engine RSS idle before / after', `${fmtMiB(d.rssIdleBefore)} / ${fmtMiB(d.rssIdleAfter)}`, '', '', '', '']);
	}
	if (r.pickup) {
		const { engine, rawNotify, rawPolling } = r.pickup;
		rows.push(['Pickup p50', fmtMs(engine.p50), `${fmtMs(rawNotify.p50)} notify`, ratio(engine.p50, rawNotify.p50), '', '']);
		rows.push(['Pickup p99', fmtMs(engine.p99), `${fmtMs(rawNotify.p99)} notify`, ratio(engine.p99, rawNotify.p99), '≤ 50 ms', verdict(engine.p99 !== null && engine.p99 <= 50)]);
		rows.push(['  vs 0.5 s polling p50 / p99', '', `${fmtMs(rawPolling.p50)} / ${fmtMs(rawPolling.p99)}`, `${ratio(engine.p50, rawPolling.p50)} / ${ratio(engine.p99, rawPolling.p99)}`, '', '']);
	}
	if (r.delayed) {
		const { engine, raw } = r.delayed;
		rows.push(['Delayed lateness p50', fmtMs(engine.p50), `${fmtMs(raw.p50)} polling`, ratio(engine.p50, raw.p50), '', '']);
		rows.push(['Delayed lateness p99', fmtMs(engine.p99), `${fmtMs(raw.p99)} polling`, ratio(engine.p99, raw.p99), '≤ 100 ms', verdict(engine.p99 !== null && engine.p99 <= 100)]);
	}
	const header = ['measurement', 'engine', 'raw pg-boss', 'engine/raw', 'target', ''];
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
	const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
	console.log('\nSummary (throughput: engine/raw > 1 is faster; latency: engine/raw < 1 is faster)');
	console.log(line(header));
	console.log(line(widths.map((w) => '-'.repeat(w))));
	for (const row of rows) console.log(line(row));
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const sizes = args.quick ? SIZES.quick : SIZES.full;
	const started = performance.now();
	const db = await openDatabase();
	console.log(`task-engine benchmark${args.quick ? ' (--quick)' : ''}: node ${process.version}, ${os.cpus().length} CPUs, PostgreSQL ${db.version} via ${db.label}`);
	if (process.env.BENCH_ENGINE_MAIN) console.log(`engine under test: ${process.env.BENCH_ENGINE_MAIN} (BENCH_ENGINE_MAIN)`);
	const ctx = { databaseUrl: db.url, pool: db.pool, diagnostics: args.diagnostics };
	const results = {};
	const steps = {
		enqueue: ['1. HTTP enqueue throughput', () => measureSingleEnqueue(ctx, sizes.enqueue)],
		bulk: ['2. Bulk enqueue', () => measureBulkEnqueue(ctx, sizes.bulk)],
		delivery: ['3. End-to-end delivery of no-op tasks (6. engine RSS)', () => measureDelivery(ctx, sizes.delivery)],
		pickup: ['4. Pickup latency, idle queue', () => measurePickup(ctx, sizes.pickup)],
		delayed: ['5. Delayed-task lateness', () => measureDelayed(ctx, sizes.delayed)],
	};
	for (const name of MEASUREMENTS.filter((m) => args.only.includes(m))) {
		const [title, run] = steps[name];
		const rt = await probeRoundTrip(db.pool);
		const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
		console.log(`\n${title}   [load average ${load}; SELECT 1 round trip p50 ${fmtMs(rt.p50)}, p99 ${fmtMs(rt.p99)}]`);
		const began = performance.now();
		results[name] = await run();
		console.log(`  (${((performance.now() - began) / 1000).toFixed(1)} s)`);
	}
	printSummary(results);
	console.log(`\nTotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

let exiting = false;
async function finish(code, reason) {
	if (exiting) return;
	exiting = true;
	if (reason) process.stderr.write(`\nbenchmark stopped: ${reason}\n`);
	await cleanupAll();
	process.exit(code);
}

const watchdog = setTimeout(() => void finish(1, `the run took longer than ${RUN_LIMIT_MS / 60_000} minutes`), RUN_LIMIT_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void finish(130, signal));
process.on('unhandledRejection', (error) => void finish(1, error?.stack ?? String(error)));
main().then(
	() => finish(0),
	(error) => finish(1, error?.stack ?? String(error)),
);
