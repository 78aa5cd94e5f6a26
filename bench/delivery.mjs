// 3. End-to-end delivery of no-op tasks: N tasks bulk-enqueued into a paused queue (concurrency
// 500) whose handler is a local receiver answering 200 {} at once; resume; time until every task
// is completed in the engine's table. vs raw pg-boss work() (batchSize 100) on N no-op jobs.
// 6. The engine's RSS: idle before, peak while delivering (sampled every 100 ms), idle after.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { analyze, quoteIdent } from './database.mjs';
import { engineBulkEnqueue, rawBulkInsert } from './enqueueBulk.mjs';
import { sampleRss, startEngine } from './engineProcess.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { startReceiver } from './receiver.mjs';
import { fmtLatency, fmtMiB, fmtMs, fmtRate, latencySummary, perSecond, sleep, waitFor } from './stats.mjs';

const QUEUE_CONCURRENCY = 500;
const DELIVERY_TIMEOUT_MS = 120_000;
const SETTLE_TIMEOUT_MS = 30_000;
const IDLE_SETTLE_MS = 3000;

async function engineDelivery(ctx, total) {
	// The receiver first: on Ctrl-C cleanup runs newest first, so the engine stops before its handler.
	const receiver = await startReceiver();
	const engine = await startEngine(ctx).catch(async (error) => {
		await receiver.close();
		throw error;
	});
	try {
		const queue = 'bench-deliver';
		await engine.call('POST', '/v1/queues', { name: queue, concurrency: QUEUE_CONCURRENCY, paused: true });
		await engine.call('POST', `/v1/queues/${queue}/handlers`, { url: receiver.url });
		await engineBulkEnqueue(engine, queue, total);
		// Fresh tables: without statistics the planner's guesses for a 20k-row table are wild (pg-boss.md).
		await analyze(ctx.pool, engine.schema, 'tasks');
		await analyze(ctx.pool, `${engine.schema}_pgboss`, 'job');
		const rssIdleBefore = engine.rss();

		const completed = async () => {
			const { rows } = await ctx.pool.query(
				`SELECT count(*)::int AS n FROM ${quoteIdent(engine.schema)}.tasks WHERE queue = $1 AND state = 'completed'`,
				[queue],
			);
			return rows[0].n;
		};
		const loopDelay = monitorEventLoopDelay({ resolution: 10 });
		loopDelay.enable();
		const rss = sampleRss(engine.pid, 100);
		const cpuBefore = engine.cpuSeconds();
		const connectionsBefore = receiver.connections;
		const began = performance.now();
		await engine.call('POST', `/v1/queues/${queue}/resume`);
		const allArrived = await receiver.waitForCount(total, DELIVERY_TIMEOUT_MS);
		const arrivedMs = performance.now() - began;
		let done = 0;
		if (allArrived) await waitFor(async () => (done = await completed()) >= total, SETTLE_TIMEOUT_MS, 10);
		else done = await completed();
		const completedMs = performance.now() - began;
		const cpu = engine.cpuSeconds() - cpuBefore;
		loopDelay.disable();
		const { peak: rssPeak, samples } = rss.stop();
		await sleep(IDLE_SETTLE_MS);
		const rssIdleAfter = engine.rss();

		const rate = perSecond(done, completedMs);
		console.log(
			`  engine  ${total} tasks, queue concurrency ${QUEUE_CONCURRENCY}, DELIVERY_CONCURRENCY ${process.env.DELIVERY_CONCURRENCY ?? 'default (256)'}:` +
				` all ${allArrived ? '' : 'NOT '}received after ${Math.round(arrivedMs)} ms (${fmtRate(perSecond(receiver.unique, arrivedMs))}),` +
				` ${done} completed in the table after ${Math.round(completedMs)} ms → ${fmtRate(rate)}` +
				` (${receiver.requests - receiver.unique} repeated deliveries)`,
		);
		console.log(
			`  engine  CPU ${cpu.toFixed(1)} s in ${(completedMs / 1000).toFixed(1)} s (${Math.round((100 * cpu * 1000) / completedMs)}% of one core, ${((cpu * 1000) / total).toFixed(2)} ms per task);` +
				` ${receiver.connections - connectionsBefore} new connections to the receiver for ${receiver.requests} requests;` +
				` receiver (benchmark process) event-loop delay p99 ${fmtMs(loopDelay.percentile(99) / 1e6)}`,
		);
		console.log(`  engine  RSS: idle before ${fmtMiB(rssIdleBefore)}, peak during delivery ${fmtMiB(rssPeak)} (${samples} samples), idle ${IDLE_SETTLE_MS / 1000} s after ${fmtMiB(rssIdleAfter)}`);
		if (done < total) console.log(`  engine  WARNING: only ${done} of ${total} tasks completed within the time limit`);
		await printPhases(ctx.pool, engine.schema, queue, receiver.arrivals);
		return { rate, rssIdleBefore, rssPeak, rssIdleAfter };
	} finally {
		await engine.stop();
		await receiver.close();
	}
}

/**
 * Where a delivery's time goes, from the engine's own timestamps (database clock, same machine):
 * started_at is the claim transaction's start, finished_at the settlement transaction's start.
 */
async function printPhases(pool, schema, queue, arrivals) {
	const { rows } = await pool.query(
		`SELECT id, extract(epoch FROM started_at) * 1000 AS started, extract(epoch FROM finished_at) * 1000 AS finished
		 FROM ${quoteIdent(schema)}.tasks WHERE queue = $1 AND state = 'completed'`,
		[queue],
	);
	const claimToArrival = [];
	const arrivalToSettle = [];
	for (const r of rows) {
		const arrival = arrivals.get(r.id);
		if (!arrival) continue;
		claimToArrival.push(arrival.at - Number(r.started));
		arrivalToSettle.push(Number(r.finished) - arrival.at);
	}
	const { rows: durations } = await pool.query(
		`SELECT duration_ms AS d FROM ${quoteIdent(schema)}.attempts WHERE queue = $1 AND duration_ms IS NOT NULL`,
		[queue],
	);
	const claims = new Set(rows.map((r) => r.started)).size;
	const settlements = new Set(rows.map((r) => r.finished)).size;
	console.log(
		`  engine  phases: claim tx start → handler ${fmtLatency(latencySummary(claimToArrival))};` +
			` handler → settlement tx start ${fmtLatency(latencySummary(arrivalToSettle))};` +
			` HTTP exchange as the engine timed it ${fmtLatency(latencySummary(durations.map((r) => r.d)))};` +
			` ${claims} claim transactions (${(rows.length / Math.max(1, claims)).toFixed(0)} tasks each), ${settlements} settlement transactions (${(rows.length / Math.max(1, settlements)).toFixed(0)} each)`,
	);
}

async function rawDelivery(raw, total, localConcurrency) {
	const queue = `bench-work-${localConcurrency}`;
	await raw.boss.createQueue(queue);
	await rawBulkInsert(raw.boss, queue, total);
	await analyze(raw.pool, raw.schema, 'job');
	let handled = 0;
	let resolveAll;
	const all = new Promise((resolve) => (resolveAll = resolve));
	const cpuBefore = process.cpuUsage();
	const began = performance.now();
	const workerId = await raw.boss.work(
		queue,
		{ batchSize: 100, localConcurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
		async (jobs) => {
			handled += jobs.length;
			if (handled >= total) resolveAll(true);
		},
	);
	const allHandled = await Promise.race([all, sleep(DELIVERY_TIMEOUT_MS).then(() => false)]);
	let done = 0;
	if (allHandled) await waitFor(async () => (done = await raw.countJobs(queue, 'completed')) >= total, SETTLE_TIMEOUT_MS, 10);
	else done = await raw.countJobs(queue, 'completed');
	const ms = performance.now() - began;
	const cpu = process.cpuUsage(cpuBefore);
	await raw.boss.offWork(queue, { id: workerId, wait: true }).catch(() => undefined);
	const rate = perSecond(done, ms);
	console.log(
		`  raw     work() batchSize 100, burstWhenBatchFull, localConcurrency ${localConcurrency}: ${done} of ${total} jobs completed after ${Math.round(ms)} ms → ${fmtRate(rate)}` +
			` (benchmark process CPU ${((cpu.user + cpu.system) / 1000 / total).toFixed(3)} ms per job)`,
	);
	return rate;
}

export async function measureDelivery(ctx, { total }) {
	const engine = await engineDelivery(ctx, total);
	const raw = await startRawBoss(ctx);
	try {
		raw.pool = ctx.pool;
		const rawRate = await rawDelivery(raw, total, 1);
		const rawRate4 = await rawDelivery(raw, total, 4);
		return { ...engine, engineRate: engine.rate, rawRate, rawRate4 };
	} finally {
		await raw.stop();
	}
}
