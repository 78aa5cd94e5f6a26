// 5. Delayed-task lateness: tasks due 1–5 s ahead (a fixed-seed random spread), lateness =
// arrival at the handler − due time. Engine: delaySeconds, due time = the task's dueAt. Raw
// pg-boss: send() with startAfter = the same spread, work() polling every 0.5 s (batchSize 100),
// due time = the job's startAfter.
import { quoteIdent } from './database.mjs';
import { startEngine } from './engineProcess.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { startReceiver } from './receiver.mjs';
import { fmtLatency, latencySummary, nowMs, runPool, seededRandom, sleep } from './stats.mjs';

const SEED = 20261128;
const MIN_DELAY_S = 1;
const MAX_DELAY_S = 5;
const GRACE_MS = 30_000;

/** Delays in seconds (millisecond precision), the same list every run. */
export function delaySpread(count) {
	const random = seededRandom(SEED);
	return Array.from({ length: count }, () => Math.round((MIN_DELAY_S + (MAX_DELAY_S - MIN_DELAY_S) * random()) * 1000) / 1000);
}

async function engineLateness(ctx, delays) {
	// The receiver first: on Ctrl-C cleanup runs newest first, so the engine stops before its handler.
	const receiver = await startReceiver();
	const engine = await startEngine(ctx).catch(async (error) => {
		await receiver.close();
		throw error;
	});
	try {
		const queue = 'bench-delayed';
		await engine.call('POST', '/v1/queues', { name: queue, concurrency: 50 });
		await engine.call('POST', `/v1/queues/${queue}/handlers`, { url: receiver.url });
		const tasks = [];
		await runPool(delays.length, 8, async (i) => {
			tasks[i] = await engine.call('POST', '/v1/tasks', { queue, name: 'later', payload: { i }, delaySeconds: delays[i] }, [201]);
		});
		await receiver.waitForCount(delays.length, MAX_DELAY_S * 1000 + GRACE_MS);
		const lateness = [];
		const byDue = [];
		let missing = 0;
		const firstCreated = Math.min(...tasks.map((t) => Date.parse(t.createdAt)));
		for (const task of tasks) {
			const arrival = receiver.arrivals.get(task.id);
			if (!arrival) {
				missing += 1;
				continue;
			}
			const late = arrival.at - Date.parse(task.dueAt);
			lateness.push(late);
			byDue.push({ id: task.id, due: Date.parse(task.dueAt) - firstCreated, late, arrival: arrival.at });
		}
		const summary = latencySummary(lateness);
		console.log(`  engine  delaySeconds 1–5 s, queue concurrency 50: lateness ${fmtLatency(summary)}${missing ? `, ${missing} never arrived` : ''}`);
		// Late tasks clustered at one due time point at a stall; spread out, at a steady cost per round.
		// Split into due → claim transaction start (the loop was not claiming) and claim → arrival.
		const worst = byDue.sort((a, b) => b.late - a.late).slice(0, 5);
		const { rows } = await ctx.pool.query(
			`SELECT task_id AS id, extract(epoch FROM started_at) * 1000 AS started FROM ${quoteIdent(engine.schema)}.attempts WHERE task_id = ANY($1::uuid[]) AND number = 1`,
			[worst.map((w) => w.id)],
		);
		const startedOf = new Map(rows.map((r) => [r.id, Number(r.started)]));
		console.log(
			`  engine  latest: ${worst
				.map((w) => {
					const claimWait = startedOf.has(w.id) ? w.late - (w.arrival - startedOf.get(w.id)) : NaN;
					return `${Math.round(w.late)} ms (due at +${(w.due / 1000).toFixed(2)} s; claimed ${Math.round(claimWait)} ms after due)`;
				})
				.join(', ')}`,
		);
		return summary;
	} finally {
		await engine.stop();
		await receiver.close();
	}
}

async function rawLateness(ctx, delays) {
	const raw = await startRawBoss(ctx);
	try {
		const queue = 'bench-delayed';
		await raw.boss.createQueue(queue);
		const arrivals = new Map();
		const workerId = await raw.boss.work(queue, { batchSize: 100, pollingIntervalSeconds: 0.5, includeMetadata: true }, async (jobs) => {
			const at = nowMs();
			for (const job of jobs) if (!arrivals.has(job.id)) arrivals.set(job.id, at - job.startAfter.getTime());
		});
		await runPool(delays.length, 8, (i) => raw.boss.send(queue, { i }, { startAfter: new Date(Date.now() + delays[i] * 1000) }));
		const until = Date.now() + MAX_DELAY_S * 1000 + GRACE_MS;
		while (arrivals.size < delays.length && Date.now() < until) await sleep(50);
		await raw.boss.offWork(queue, { id: workerId, wait: true }).catch(() => undefined);
		const summary = latencySummary([...arrivals.values()]);
		const missing = delays.length - arrivals.size;
		console.log(`  raw     send({startAfter}) → work() polling 0.5 s, batchSize 100: lateness ${fmtLatency(summary)}${missing ? `, ${missing} never arrived` : ''}`);
		return summary;
	} finally {
		await raw.stop();
	}
}

export async function measureDelayed(ctx, { count }) {
	const delays = delaySpread(count);
	const engine = await engineLateness(ctx, delays);
	const raw = await rawLateness(ctx, delays);
	return { engine, raw };
}
