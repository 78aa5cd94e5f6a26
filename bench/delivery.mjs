// End-to-end delivery (see deliveryRun.mjs for how one run is timed), each engine run beside raw
// pg-boss work() at the same concurrency in the same run: batchSize C (up to 100 per fetch, more
// workers above that), so both hold at most C tasks at a time and both fetch/claim in groups.
// (Ten workers of batchSize 1 would be the other way to hold 10 at a time, but pg-boss's burst mode
// is off at batchSize 1: each such worker waits its polling interval, 0.5 s at least, after every
// job, about 20 jobs/s in a trial.)
// 3. The default queue (concurrency 10, what most users run): an instant handler and one taking 20 ms.
// 4. Concurrency 50 and 500, instant handler; at 500 also work() batchSize 100 with one worker,
//    the baseline of the issue's target. The engine's RSS comes from these runs.
import { engineDeliveryRun, ideal, rawDeliveryRun } from './deliveryRun.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { machineState } from './stats.mjs';

export const DEFAULT_CONCURRENCY = 10;
export const SLOW_HANDLER_MS = 20;
const RAW_MAX_BATCH = 100;

/** work() settings holding `concurrency` jobs at a time: one fetch of them all, up to 100 per fetch. */
export function rawSameConcurrency(concurrency) {
	const batchSize = Math.min(concurrency, RAW_MAX_BATCH);
	return { batchSize, localConcurrency: Math.ceil(concurrency / batchSize) };
}

/** One engine run and its raw runs (the first is the ratio's base); the machine's state before it. */
async function compare(ctx, raw, { concurrency, total, handlerMs = 0, rawExtra = [] }) {
	const machine = await machineState(ctx.pool);
	console.log(`  -- concurrency ${concurrency}, handler ${handlerMs ? `${handlerMs} ms` : 'instant'}, ${total} tasks   [${machine.label}]`);
	const engine = await engineDeliveryRun(ctx, { concurrency, total, handlerMs });
	const rawRuns = [];
	for (const settings of [rawSameConcurrency(concurrency), ...rawExtra]) {
		rawRuns.push({ ...settings, ...(await rawDeliveryRun(raw, { total, handlerMs, ...settings })) });
	}
	return { concurrency, handlerMs, total, machine, engine, raw: rawRuns, ideal: handlerMs ? ideal(concurrency, handlerMs) : null };
}

async function withRawBoss(ctx, fn) {
	const raw = await startRawBoss(ctx);
	try {
		return await fn(raw);
	} finally {
		await raw.stop();
	}
}

export function measureDefaultDelivery(ctx, { instant, slow }) {
	return withRawBoss(ctx, async (raw) => ({
		instant: await compare(ctx, raw, { concurrency: DEFAULT_CONCURRENCY, total: instant }),
		slow: await compare(ctx, raw, { concurrency: DEFAULT_CONCURRENCY, total: slow, handlerMs: SLOW_HANDLER_MS }),
	}));
}

export function measureDelivery(ctx, { c50, c500 }) {
	return withRawBoss(ctx, async (raw) => ({
		c50: await compare(ctx, raw, { concurrency: 50, total: c50 }),
		c500: await compare(ctx, raw, { concurrency: 500, total: c500, rawExtra: [{ batchSize: RAW_MAX_BATCH, localConcurrency: 1 }] }),
	}));
}
