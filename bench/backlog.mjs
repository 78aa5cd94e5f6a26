// 7. The engine's RSS with 1,000,000 tasks queued. The tasks go in through the API (POST
// /v1/tasks/bulk, 1,000 per call, BULK_IN_FLIGHT at once) into a paused queue of concurrency 500:
// the rows are then exactly what the engine writes, whatever its version pairs with them (a SQL
// fill would have to copy the engine's task ↔ pg-boss job pairing, which is being reworked).
// Then: the filling engine's RSS idle; a fresh engine started on the same data (as after a
// restart with a backlog) idle, and its peak while delivering a few thousand from the backlog to a
// local receiver; the queue is paused again once they have arrived.
import { onCleanup } from './cleanup.mjs';
import { analyze, dropSchemas, freshSchema } from './database.mjs';
import { BULK_IN_FLIGHT, BULK_SIZE, engineBulkEnqueue } from './enqueueBulk.mjs';
import { sampleRss, startEngine } from './engineProcess.mjs';
import { startReceiver } from './receiver.mjs';
import { fmtMiB, fmtRate, perSecond, sleep } from './stats.mjs';

const QUEUE = 'bench-backlog';
const CONCURRENCY = 500;
/** An engine's start-up work (catalog, first maintenance rounds) is over by then. */
const IDLE_SETTLE_MS = 5000;
const DELIVERY_TIMEOUT_MS = 120_000;

async function fill(engine, receiver, tasks) {
	await engine.call('POST', '/v1/queues', { name: QUEUE, concurrency: CONCURRENCY, paused: true });
	await engine.call('POST', `/v1/queues/${QUEUE}/handlers`, { url: receiver.url });
	const rss = sampleRss(engine.pid, 250);
	const began = performance.now();
	await engineBulkEnqueue(engine, QUEUE, tasks);
	const ms = performance.now() - began;
	const { peak } = rss.stop();
	console.log(
		`  engine  filled ${tasks.toLocaleString('en-US')} tasks through POST /v1/tasks/bulk (${BULK_SIZE} per call, ${BULK_IN_FLIGHT} in flight) in ${(ms / 1000).toFixed(1)} s → ${fmtRate(perSecond(tasks, ms))};` +
			` RSS peak while filling ${fmtMiB(peak)}`,
	);
}

/** Resumes the backlog queue until `count` tasks reached the receiver, then pauses it again. */
async function deliverSome(engine, receiver, count) {
	const rss = sampleRss(engine.pid, 100);
	const began = performance.now();
	await engine.call('POST', `/v1/queues/${QUEUE}/resume`);
	const arrived = await receiver.waitForCount(count, DELIVERY_TIMEOUT_MS);
	const ms = performance.now() - began;
	const received = receiver.unique;
	await engine.call('POST', `/v1/queues/${QUEUE}/pause`);
	const { peak, samples } = rss.stop();
	return { arrived, received, ms, rate: perSecond(received, ms), peak, samples };
}

export async function measureBacklog(ctx, { tasks, deliver }) {
	// This measurement owns the schema: two engines use it one after the other.
	const schema = freshSchema();
	const dropData = onCleanup(`backlog schemas ${schema}`, () => dropSchemas(ctx.pool, [schema, `${schema}_pgboss`]));
	const receiver = await startReceiver();
	try {
		const filling = await startEngine({ ...ctx, schema });
		let rssFilledIdle;
		try {
			await fill(filling, receiver, tasks);
			// As in the delivery runs: planner statistics for the new rows (autovacuum would get there).
			await analyze(ctx.pool, schema, 'tasks');
			await analyze(ctx.pool, `${schema}_pgboss`, 'job');
			await sleep(IDLE_SETTLE_MS);
			rssFilledIdle = filling.rss();
		} finally {
			await filling.stop();
		}

		const startedAt = performance.now();
		const engine = await startEngine({ ...ctx, schema });
		try {
			const startMs = performance.now() - startedAt;
			await sleep(IDLE_SETTLE_MS);
			const rssIdle = engine.rss();
			const d = await deliverSome(engine, receiver, deliver);
			console.log(
				`  engine  the filling engine idle ${IDLE_SETTLE_MS / 1000} s after the fill: RSS ${fmtMiB(rssFilledIdle)};` +
					` a fresh engine on the same data (started in ${Math.round(startMs)} ms): RSS idle ${fmtMiB(rssIdle)}`,
			);
			console.log(
				`  engine  resumed (queue concurrency ${CONCURRENCY}) until ${deliver} tasks ${d.arrived ? '' : 'had NOT '}arrived: ${d.received} after ${Math.round(d.ms)} ms` +
					` (${fmtRate(d.rate)}), paused again; RSS peak while delivering ${fmtMiB(d.peak)} (${d.samples} samples)`,
			);
			return { tasks, deliver, concurrency: CONCURRENCY, rssFilledIdle, rssIdle, rssDelivering: d.peak, deliverRate: d.rate };
		} finally {
			await engine.stop();
		}
	} finally {
		await receiver.close();
		await dropData();
	}
}
