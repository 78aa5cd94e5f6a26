// The engine benchmark (`npm run bench`): each measurement against raw pg-boss in the same run on
// the same database, then a summary with the targets of issue 11. See `node bench/run.mjs --help`.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { measureBacklog } from './backlog.mjs';
import { cleanupAll } from './cleanup.mjs';
import { openDatabase } from './database.mjs';
import { measureDelayed } from './delayed.mjs';
import { measureEvents } from './events.mjs';
import { measureDefaultDelivery, measureDelivery } from './delivery.mjs';
import { measureBulkEnqueue } from './enqueueBulk.mjs';
import { measureSingleEnqueue } from './enqueueSingle.mjs';
import { measureKeys } from './keys.mjs';
import { measurePickup } from './pickup.mjs';
import { countServerCpu, machineState } from './stats.mjs';
import { printSummary } from './summary.mjs';

const BACKLOG = { tasks: 1_000_000, deliver: 5000 };
const SIZES = {
	full: {
		enqueue: { warmup: 500, count: 5000 },
		bulk: { calls: 20 },
		default: { instant: 4000, slow: 3000 },
		delivery: { c50: 10_000, c500: 20_000 },
		pickup: { samples: 300, pollingSamples: 60 },
		delayed: { count: 300 },
		backlog: BACKLOG,
		events: { subscribers: 50, changesPerSecond: 1000, seconds: 20 },
		keys: { tasks: 3000, manyKeys: 10_000, hot: 2000, others: 1000 },
	},
	quick: {
		enqueue: { warmup: 200, count: 2000 },
		bulk: { calls: 8 },
		default: { instant: 1500, slow: 1000 },
		delivery: { c50: 3000, c500: 5000 },
		pickup: { samples: 100, pollingSamples: 20 },
		delayed: { count: 100 },
		// The 1M backlog is the point of that measurement: it is not shrunk, only left out of --quick.
		backlog: BACKLOG,
		events: { subscribers: 50, changesPerSecond: 1000, seconds: 8 },
		keys: { tasks: 1000, manyKeys: 0, hot: 500, others: 300 },
	},
};
const MEASUREMENTS = ['enqueue', 'bulk', 'default', 'delivery', 'pickup', 'delayed', 'backlog', 'events', 'keys'];
/** Left out of --quick unless named with --only: filling a million tasks takes minutes. */
const NOT_QUICK = ['backlog'];
/**
 * The whole run is bounded: past this, everything is stopped and the run fails. The full run's
 * budget covers the 1M backlog (a few minutes on 2 busy cores) on top of the rest.
 */
const RUN_LIMIT_MS = { full: 15 * 60_000, quick: 8 * 60_000 };

const n = (value) => value.toLocaleString('en-US');
const F = SIZES.full;
const Q = SIZES.quick;
const HELP = `Usage: node bench/run.mjs [--quick] [--only ${MEASUREMENTS.join(',')}] [--skip …] [--count-queries] [--cpu-prof DIR]

Database: BENCH_DATABASE_URL, else an embedded PostgreSQL in a temporary folder.
Each measurement starts the compiled engine (engine/dist; build it first, or BENCH_ENGINE_MAIN=a
build's main.js) as a child process in a fresh schema, and raw pg-boss in another, and drops both
at the end. Each section and each delivery run prints the load average and a SELECT 1 round trip.

  enqueue   POST /v1/tasks, ${n(F.enqueue.count)} after ${n(F.enqueue.warmup)} warm-up, 32 in flight, with node:http keep-alive and
            with Node's fetch, vs boss.send() × 32 in flight; then each client against a bare server
            (no database: 201 and the engine's answer at once), the most that client reaches here
  bulk      POST /v1/tasks/bulk ${F.bulk.calls} × 1,000 (4 in flight) vs boss.insert() the same way
  default   the default queue (concurrency 10): ${n(F.default.instant)} tasks to an instant local handler and ${n(F.default.slow)}
            to one answering after 20 ms; throughput, engine time per slot cycle (elapsed × 10 /
            tasks − the handler's time), vs work() holding 10 at a time (batchSize 10)
  delivery  concurrency 50 (${n(F.delivery.c50)} tasks) and 500 (${n(F.delivery.c500)}), instant handler, vs work() batchSize
            50 and 100 × 5 workers (the same concurrency) and batchSize 100 × 1 (the target's
            baseline); the engine's RSS at start, idle, peak while delivering and idle after.
            Each default and delivery run, engine and raw, first delivers up to 2,000 tasks of its
            own queue unmeasured (deliveryRun.mjs, warm-up)
  pickup    ${F.pickup.samples} sequential enqueue → delivery (p50/p99) vs send() → work() with LISTEN/NOTIFY (${F.pickup.samples})
            and with 0.5 s polling (${F.pickup.pollingSamples} samples: each waits a whole interval, see pickup.mjs)
  delayed   ${F.delayed.count} tasks due in 1–5 s (fixed seed): lateness p50/p99 vs startAfter + 0.5 s polling
  backlog   ${n(F.backlog.tasks)} tasks bulk-enqueued through the API into a paused queue; the engine's RSS
            idle with them queued (the filling engine, and a fresh one on the same data), and
            while delivering ${n(F.backlog.deliver)} of them (not in --quick unless named with --only)
  events    GET /v1/events: ${F.events.subscribers} subscribers while tasks make ${n(F.events.changesPerSecond)} state changes/s for ${F.events.seconds} s, and the
            same load without subscribers: the engine's CPU both ways, event lag p50/p99, missing events
  keys      flow control at concurrency 10, instant handler: ${n(F.keys.tasks)} tasks without a key, then each with its own
            key (keyConcurrency 1), and ${n(F.keys.manyKeys)} with their own keys; ${n(F.keys.others)} tasks of idle keys behind ${n(F.keys.hot)}
            parked tasks of one hot key (rate, pickup p50/p99) vs the same without keys; reads per
            delivery; vs work() batchSize 10

--quick shrinks: enqueue ${n(Q.enqueue.count)} (+${Q.enqueue.warmup} warm-up), bulk ${Q.bulk.calls} calls, default ${n(Q.default.instant)} + ${n(Q.default.slow)} tasks,
delivery ${n(Q.delivery.c50)} + ${n(Q.delivery.c500)} tasks, pickup ${Q.pickup.samples} (polling ${Q.pickup.pollingSamples}), delayed ${Q.delayed.count}, events ${Q.events.seconds} s, keys ${n(Q.keys.tasks)} (hot ${Q.keys.hot}, others ${Q.keys.others}, no ${n(F.keys.manyKeys)}-key run); leaves out backlog.
--skip leaves out the named measurements. The run stops after ${RUN_LIMIT_MS.full / 60_000} minutes (--quick: ${RUN_LIMIT_MS.quick / 60_000}).

Diagnostics (they slow the engine a little; figures taken with them are not the benchmark's):
  --count-queries  print each engine's SQL statements by total client time when it stops
  --cpu-prof DIR   write a CPU profile of each engine process into DIR (open in Chrome DevTools)
`;

function measurementList(value, flag) {
	const names = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
	const unknown = names.filter((m) => !MEASUREMENTS.includes(m));
	if (unknown.length > 0 || names.length === 0) throw new Error(`${flag} takes some of ${MEASUREMENTS.join(',')} (got "${value ?? ''}")`);
	return names;
}

function parseArgs(argv) {
	const args = { quick: false, only: null, skip: [], diagnostics: {} };
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
		} else if (arg === '--only' || arg.startsWith('--only=') || arg === '--skip' || arg.startsWith('--skip=')) {
			const flag = arg.startsWith('--only') ? '--only' : '--skip';
			const names = measurementList(arg.includes('=') ? arg.slice(flag.length + 1) : argv[++i], flag);
			if (flag === '--only') args.only = names;
			else args.skip = names;
		} else throw new Error(`unknown argument "${arg}" (see --help)`);
	}
	const chosen = args.only ?? MEASUREMENTS.filter((m) => !(args.quick && NOT_QUICK.includes(m)));
	args.measurements = chosen.filter((m) => !args.skip.includes(m));
	return args;
}

/**
 * Which engine the figures belong to. `npm run bench` builds engine/dist from the working tree
 * first, so uncommitted changes under engine/ are part of what is measured: say so.
 */
function engineUnderTest() {
	if (process.env.BENCH_ENGINE_MAIN) return `${process.env.BENCH_ENGINE_MAIN} (BENCH_ENGINE_MAIN)`;
	try {
		const cwd = fileURLToPath(new URL('..', import.meta.url));
		const git = (...gitArgs) => execFileSync('git', gitArgs, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
		const changed = git('status', '--porcelain', '--', 'engine').split('\n').filter(Boolean).length;
		return `engine/dist; working tree at ${git('rev-parse', '--short', 'HEAD')}${changed ? ` with ${changed} changed or new files under engine/` : ', engine/ unchanged'}`;
	} catch {
		return 'engine/dist (git state unknown)';
	}
}

async function main(args) {
	const sizes = args.quick ? SIZES.quick : SIZES.full;
	const started = performance.now();
	const db = await openDatabase();
	countServerCpu(db.dataDir);
	console.log(`task-engine benchmark${args.quick ? ' (--quick)' : ''}: node ${process.version}, ${os.cpus().length} CPUs, PostgreSQL ${db.version} via ${db.label}`);
	console.log(`engine under test: ${engineUnderTest()}`);
	const ctx = { databaseUrl: db.url, pool: db.pool, diagnostics: args.diagnostics };
	const results = {};
	const steps = {
		enqueue: ['1. HTTP enqueue throughput', () => measureSingleEnqueue(ctx, sizes.enqueue)],
		bulk: ['2. Bulk enqueue', () => measureBulkEnqueue(ctx, sizes.bulk)],
		default: ['3. Delivery at the default queue concurrency (10)', () => measureDefaultDelivery(ctx, sizes.default)],
		delivery: ['4. Delivery at concurrency 50 and 500, instant handler (and the engine\'s RSS)', () => measureDelivery(ctx, sizes.delivery)],
		pickup: ['5. Pickup latency, idle queue', () => measurePickup(ctx, sizes.pickup)],
		delayed: ['6. Delayed-task lateness', () => measureDelayed(ctx, sizes.delayed)],
		backlog: [`7. Engine RSS with ${sizes.backlog.tasks.toLocaleString('en-US')} tasks queued`, () => measureBacklog(ctx, sizes.backlog)],
		events: [`8. Live events: ${sizes.events.subscribers} subscribers at ${n(sizes.events.changesPerSecond)} state changes/s`, () => measureEvents(ctx, sizes.events)],
		keys: ['9. Flow control: claiming with per-key limits', () => measureKeys(ctx, sizes.keys)],
	};
	for (const name of MEASUREMENTS.filter((m) => args.measurements.includes(m))) {
		const [title, run] = steps[name];
		const machine = await machineState(db.pool);
		console.log(`\n${title}   [${machine.label}]`);
		const began = performance.now();
		results[name] = { machine, ...(await run()) };
		console.log(`  (${((performance.now() - began) / 1000).toFixed(1)} s)`);
	}
	printSummary(results);
	const end = await machineState(db.pool);
	console.log(`\nTotal ${((performance.now() - started) / 1000).toFixed(1)} s; at the end: ${end.label}`);
}

let exiting = false;
async function finish(code, reason) {
	if (exiting) return;
	exiting = true;
	if (reason) process.stderr.write(`\nbenchmark stopped: ${reason}\n`);
	await cleanupAll();
	process.exit(code);
}

let args;
try {
	args = parseArgs(process.argv.slice(2));
} catch (error) {
	process.stderr.write(`${error.message}\n`);
	process.exit(2);
}
const limitMs = args.quick ? RUN_LIMIT_MS.quick : RUN_LIMIT_MS.full;
const watchdog = setTimeout(() => void finish(1, `the run took longer than ${limitMs / 60_000} minutes`), limitMs);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void finish(130, signal));
process.on('unhandledRejection', (error) => void finish(1, error?.stack ?? String(error)));
main(args).then(
	() => finish(0),
	(error) => finish(1, error?.stack ?? String(error)),
);
