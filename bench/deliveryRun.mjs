// One delivery run, the building block of the delivery measurements: N tasks wait in a paused
// queue, the queue resumes, and the clock runs until every task is completed in the table.
// Engine: a queue of concurrency C whose handler is a local receiver (answering at once or after
// handlerMs). Raw pg-boss: work() with batchSize × localConcurrency jobs at a time, its handler
// doing nothing or sleeping handlerMs per batch (the jobs of a batch run side by side).
//
// Engine time per slot cycle: a queue of concurrency C keeps at most C tasks between claim and
// settlement, so each slot goes round N / C times in the elapsed time. One turn of a slot is
// elapsed × C / N; less the time the handler held the request (measured by the receiver), what
// remains is what the engine adds per task: claim, HTTP exchange on loopback, settlement, and any
// wait for a slot to be refilled. The same formula gives raw pg-boss's figure.
//
// Both sides first deliver up to WARM_UP tasks of a queue of their own, unmeasured, with the same
// concurrency and handler: the measured run then sees the engine as a service that has been up a
// while does, its hot paths compiled by V8 (a fresh engine's first thousands of deliveries cost it
// ~0.6-0.8 ms of CPU per task at concurrency 10, against ~0.35-0.4 once warm), as pg-boss's code in
// the long-lived benchmark process mostly already is.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { analyze, quoteIdent } from './database.mjs';
import { engineBulkEnqueue, rawBulkInsert } from './enqueueBulk.mjs';
import { engineDefault, sampleRss, startEngine } from './engineProcess.mjs';
import { startReceiver } from './receiver.mjs';
import { cpuBound, fmtCpuBound, fmtLatency, fmtMiB, fmtMs, fmtRate, latencySummary, participantsCpuSeconds, perSecond, sleep, waitFor } from './stats.mjs';

const DELIVERY_TIMEOUT_MS = 120_000;
const SETTLE_TIMEOUT_MS = 30_000;
const IDLE_SETTLE_MS = 3000;
/** Tasks delivered before each measured run, unmeasured (at most the run's own size). */
const WARM_UP = 2000;

/** Time one slot spends per task (elapsed × C / N) and the part of it outside the handler. */
export function slotCycle(elapsedMs, concurrency, done, handlerHeldMs) {
	if (done === 0) return { cycleMs: null, overheadMs: null };
	const cycleMs = (elapsedMs * concurrency) / done;
	return { cycleMs, overheadMs: cycleMs - handlerHeldMs };
}

/** Tasks of `queue` completed in the engine's table. */
async function countCompleted(pool, schema, queue) {
	const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.tasks WHERE queue = $1 AND state = 'completed'`, [queue]);
	return rows[0].n;
}

/**
 * Resumes `queue` of a running engine and times the delivery of its `total` waiting tasks to
 * `receiver` until all are completed in the table; samples the engine's RSS meanwhile.
 */
async function timeEngineDelivery(ctx, engine, receiver, queue, total) {
	const loopDelay = monitorEventLoopDelay({ resolution: 10 });
	loopDelay.enable();
	const rss = sampleRss(engine.pid, 100);
	const cpuBefore = engine.cpuSeconds();
	const cpuAtStart = participantsCpuSeconds();
	const began = performance.now();
	await engine.call('POST', `/v1/queues/${queue}/resume`);
	const allArrived = await receiver.waitForCount(total, DELIVERY_TIMEOUT_MS);
	const arrivedMs = performance.now() - began;
	let done = 0;
	if (allArrived) await waitFor(async () => (done = await countCompleted(ctx.pool, engine.schema, queue)) >= total, SETTLE_TIMEOUT_MS, 10);
	else done = await countCompleted(ctx.pool, engine.schema, queue);
	const elapsedMs = performance.now() - began;
	const bound = cpuBound(cpuAtStart, done, elapsedMs);
	const cpuSeconds = engine.cpuSeconds() - cpuBefore;
	loopDelay.disable();
	const { peak: rssPeak, samples: rssSamples } = rss.stop();
	return { allArrived, arrivedMs, done, elapsedMs, cpuSeconds, bound, rssPeak, rssSamples, loopDelayP99Ms: loopDelay.percentile(99) / 1e6 };
}

/** The engine's warm-up: `count` tasks of a queue of their own delivered to `receiver`, which then forgets them. */
async function warmUpEngine(ctx, engine, receiver, concurrency, count) {
	const queue = 'bench-warm-up';
	await engine.call('POST', '/v1/queues', { name: queue, concurrency });
	await engine.call('POST', `/v1/queues/${queue}/handlers`, { url: receiver.url });
	await engineBulkEnqueue(engine, queue, count);
	if (!(await receiver.waitForCount(count, DELIVERY_TIMEOUT_MS))) throw new Error(`the engine's warm-up did not deliver ${count} tasks`);
	await waitFor(async () => (await countCompleted(ctx.pool, engine.schema, queue)) >= count, SETTLE_TIMEOUT_MS, 10);
	receiver.forget();
}

/**
 * One engine run on a fresh engine: `total` tasks into a paused queue of `concurrency`, then
 * delivered to a receiver that answers after `handlerMs`. Prints its lines; returns the figures.
 */
export async function engineDeliveryRun(ctx, { concurrency, total, handlerMs = 0 }) {
	// The receiver first: on Ctrl-C cleanup runs newest first, so the engine stops before its handler.
	const receiver = await startReceiver({ delayMs: handlerMs });
	const engine = await startEngine(ctx).catch(async (error) => {
		await receiver.close();
		throw error;
	});
	try {
		const rssStart = engine.rss();
		const warmUp = Math.min(WARM_UP, total);
		await warmUpEngine(ctx, engine, receiver, concurrency, warmUp);
		const queue = 'bench-deliver';
		await engine.call('POST', '/v1/queues', { name: queue, concurrency, paused: true });
		await engine.call('POST', `/v1/queues/${queue}/handlers`, { url: receiver.url });
		await engineBulkEnqueue(engine, queue, total);
		// Fresh tables: without statistics the planner's guesses for a 20k-row table are wild (pg-boss.md).
		await analyze(ctx.pool, engine.schema, 'tasks');
		await analyze(ctx.pool, `${engine.schema}_pgboss`, 'job');
		const rssIdleBefore = engine.rss();
		const connectionsBefore = receiver.connections;
		const t = await timeEngineDelivery(ctx, engine, receiver, queue, total);
		await sleep(IDLE_SETTLE_MS);
		const rssIdleAfter = engine.rss();

		const rate = perSecond(t.done, t.elapsedMs);
		const heldMs = receiver.meanHeldMs;
		const { cycleMs, overheadMs } = slotCycle(t.elapsedMs, concurrency, t.done, heldMs);
		const deliveryConcurrency = process.env.DELIVERY_CONCURRENCY ?? `default (${await engineDefault('DELIVERY_CONCURRENCY')})`;
		console.log(
			`  engine  ${total} tasks (after ${warmUp} to warm up), queue concurrency ${concurrency}, handler ${handlerMs ? `${handlerMs} ms` : 'instant'}, DELIVERY_CONCURRENCY ${deliveryConcurrency}:` +
				` all ${t.allArrived ? '' : 'NOT '}received after ${Math.round(t.arrivedMs)} ms (${fmtRate(perSecond(receiver.unique, t.arrivedMs))}),` +
				` ${t.done} completed in the table after ${Math.round(t.elapsedMs)} ms → ${fmtRate(rate)} (${receiver.requests - receiver.unique} repeated deliveries)`,
		);
		console.log(
			`  engine  slot cycle ${fmtMs(cycleMs)} (elapsed × ${concurrency} / ${t.done}) = handler held ${fmtMs(heldMs)} (receiver's mean) + engine ${fmtMs(overheadMs)}` +
				(handlerMs ? `; ideal ${fmtRate(ideal(concurrency, handlerMs))} (${concurrency} / ${handlerMs} ms) → ${(rate / ideal(concurrency, handlerMs)).toFixed(2)}× ideal` : ''),
		);
		console.log(
			`  engine  CPU ${t.cpuSeconds.toFixed(1)} s in ${(t.elapsedMs / 1000).toFixed(1)} s (${Math.round((100 * t.cpuSeconds * 1000) / t.elapsedMs)}% of one core, ${((t.cpuSeconds * 1000) / total).toFixed(2)} ms per task);` +
				` ${receiver.connections - connectionsBefore} new connections to the receiver for ${receiver.requests} requests;` +
				` receiver (benchmark process) event-loop delay p99 ${fmtMs(t.loopDelayP99Ms)}`,
		);
		console.log(`  engine  ${fmtCpuBound(t.bound)}`);
		console.log(
			`  engine  RSS: at start ${fmtMiB(rssStart)}, idle with ${total} queued ${fmtMiB(rssIdleBefore)}, peak during delivery ${fmtMiB(t.rssPeak)} (${t.rssSamples} samples),` +
				` idle ${IDLE_SETTLE_MS / 1000} s after ${fmtMiB(rssIdleAfter)}`,
		);
		if (t.done < total) console.log(`  engine  WARNING: only ${t.done} of ${total} tasks completed within the time limit`);
		await printPhases(ctx.pool, engine.schema, queue, receiver.arrivals);
		return { rate, cycleMs, overheadMs, heldMs, bound: t.bound, rssStart, rssIdleBefore, rssPeak: t.rssPeak, rssIdleAfter };
	} finally {
		await engine.stop();
		await receiver.close();
	}
}

/** The best a queue of `concurrency` can do with a handler taking `handlerMs`: every slot always busy. */
export const ideal = (concurrency, handlerMs) => (concurrency * 1000) / handlerMs;

/**
 * Where a delivery's time goes, from the engine's own timestamps (database clock, same machine):
 * started_at is the claim transaction's start, finished_at the settlement transaction's start.
 */
export async function printPhases(pool, schema, queue, arrivals) {
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

/**
 * Jobs of `queue` worked off: `total` inserted, then work() with `batchSize` per fetch and
 * `localConcurrency` workers (burstWhenBatchFull: a full fetch is followed by the next at once, as
 * the engine refills freed slots at once); the handler sleeps `handlerMs` per batch. Times it until
 * every job is completed in the table.
 */
async function rawWork(raw, queue, total, { batchSize, localConcurrency, handlerMs }) {
	await raw.boss.createQueue(queue);
	await rawBulkInsert(raw.boss, queue, total);
	await analyze(raw.pool, raw.schema, 'job');
	let handled = 0;
	let heldMs = 0;
	let resolveAll;
	const all = new Promise((resolve) => (resolveAll = resolve));
	const cpuBefore = process.cpuUsage();
	const cpuAtStart = participantsCpuSeconds();
	const began = performance.now();
	const workerId = await raw.boss.work(
		queue,
		{ batchSize, localConcurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
		async (jobs) => {
			const start = performance.now();
			if (handlerMs > 0) await sleep(handlerMs);
			heldMs += (performance.now() - start) * jobs.length;
			handled += jobs.length;
			if (handled >= total) resolveAll(true);
		},
	);
	const allHandled = await Promise.race([all, sleep(DELIVERY_TIMEOUT_MS).then(() => false)]);
	let done = 0;
	if (allHandled) await waitFor(async () => (done = await raw.countJobs(queue, 'completed')) >= total, SETTLE_TIMEOUT_MS, 10);
	else done = await raw.countJobs(queue, 'completed');
	const elapsedMs = performance.now() - began;
	const bound = cpuBound(cpuAtStart, done, elapsedMs);
	const cpu = process.cpuUsage(cpuBefore);
	await raw.boss.offWork(queue, { id: workerId, wait: true }).catch(() => undefined);
	return { done, elapsedMs, bound, cpu, meanHeldMs: handled === 0 ? 0 : heldMs / handled };
}

/** One raw pg-boss run (rawWork), after its warm-up on a queue of its own. */
export async function rawDeliveryRun(raw, { total, batchSize, localConcurrency, handlerMs = 0 }) {
	const queue = `bench-work-${batchSize}x${localConcurrency}-${handlerMs}`;
	const settings = { batchSize, localConcurrency, handlerMs };
	const warmUp = Math.min(WARM_UP, total);
	await rawWork(raw, `${queue}-warm-up`, warmUp, settings);
	const { done, elapsedMs, bound, cpu, meanHeldMs } = await rawWork(raw, queue, total, settings);
	const rate = perSecond(done, elapsedMs);
	const concurrency = batchSize * localConcurrency;
	const { cycleMs, overheadMs } = slotCycle(elapsedMs, concurrency, done, meanHeldMs);
	console.log(
		`  raw     work() batchSize ${batchSize} × localConcurrency ${localConcurrency} (${concurrency} at a time), handler ${handlerMs ? `${handlerMs} ms` : 'instant'}:` +
			` ${done} of ${total} jobs (after ${warmUp} to warm up) completed after ${Math.round(elapsedMs)} ms → ${fmtRate(rate)};` +
			` slot cycle ${fmtMs(cycleMs)} = handler ${fmtMs(meanHeldMs)} + pg-boss ${fmtMs(overheadMs)}` +
			` (benchmark process CPU ${((cpu.user + cpu.system) / 1000 / total).toFixed(3)} ms per job)` +
			`\n          ${fmtCpuBound(bound)}`,
	);
	return { rate, cycleMs, overheadMs, bound };
}
