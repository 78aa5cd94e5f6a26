// 4. Pickup latency of an idle queue: sequential single enqueues, each waiting for its delivery.
// Engine: receiver arrival − the task's createdAt. Raw pg-boss: work() handler call − the job's
// createdOn, once with LISTEN/NOTIFY (useListenNotify + queue notify) and once polling every 0.5 s.
// Both timestamps come from the database clock and the wall clock of the same machine.
// With polling, a worker sleeps a whole interval after each fetch, and each send here follows the
// previous job's handler at once: every job waits about one full interval (0.5 s), not half of one.
// So that variant takes fewer samples.
import { startEngine } from './engineProcess.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { startReceiver } from './receiver.mjs';
import { fmtLatency, latencySummary, nowMs } from './stats.mjs';

const WAIT_MS = 10_000;
const WARMUP = 10;

async function enginePickup(ctx, samples) {
	// The receiver first: on Ctrl-C cleanup runs newest first, so the engine stops before its handler.
	const receiver = await startReceiver();
	const engine = await startEngine(ctx).catch(async (error) => {
		await receiver.close();
		throw error;
	});
	try {
		const queue = 'bench-pickup';
		await engine.call('POST', '/v1/queues', { name: queue });
		await engine.call('POST', `/v1/queues/${queue}/handlers`, { url: receiver.url });
		const latencies = [];
		let missed = 0;
		for (let i = 0; i < WARMUP + samples; i++) {
			const task = await engine.call('POST', '/v1/tasks', { queue, name: 'ping', payload: { i } }, [201]);
			const arrival = await receiver.waitFor(task.id, WAIT_MS);
			if (!arrival) missed += 1;
			else if (i >= WARMUP) latencies.push(arrival.at - Date.parse(task.createdAt));
		}
		const summary = latencySummary(latencies);
		console.log(`  engine  POST /v1/tasks → handler: ${fmtLatency(summary)}${missed ? `, ${missed} not delivered within ${WAIT_MS} ms` : ''}`);
		return summary;
	} finally {
		await engine.stop();
		await receiver.close();
	}
}

/** Sends `samples` jobs one at a time to a worker of `queue`; latency = handler call − createdOn. */
async function rawPickup(boss, queue, workOptions, samples) {
	const pending = new Map(); // job id → resolve
	const arrivedEarly = new Map();
	const workerId = await boss.work(queue, { ...workOptions, includeMetadata: true }, async (jobs) => {
		const at = nowMs();
		for (const job of jobs) {
			const arrival = { at, createdOn: job.createdOn.getTime() };
			const resolve = pending.get(job.id);
			if (resolve) resolve(arrival);
			else arrivedEarly.set(job.id, arrival);
		}
	});
	const latencies = [];
	let missed = 0;
	try {
		for (let i = 0; i < WARMUP + samples; i++) {
			const id = await boss.send(queue, { i });
			const arrival =
				arrivedEarly.get(id) ??
				(await new Promise((resolve) => {
					const timer = setTimeout(() => resolve(null), WAIT_MS);
					pending.set(id, (a) => {
						clearTimeout(timer);
						resolve(a);
					});
				}));
			pending.delete(id);
			if (!arrival) missed += 1;
			else if (i >= WARMUP) latencies.push(arrival.at - arrival.createdOn);
		}
	} finally {
		await boss.offWork(queue, { id: workerId, wait: true }).catch(() => undefined);
	}
	return { summary: latencySummary(latencies), missed };
}

export async function measurePickup(ctx, { samples, pollingSamples }) {
	const engine = await enginePickup(ctx, samples);
	const raw = await startRawBoss({ ...ctx, options: { useListenNotify: true } });
	try {
		await raw.boss.createQueue('bench-pickup-notify', { notify: true });
		const notify = await rawPickup(raw.boss, 'bench-pickup-notify', {}, samples);
		console.log(`  raw     send() → work() with LISTEN/NOTIFY (batchSize 1): ${fmtLatency(notify.summary)}${notify.missed ? `, ${notify.missed} missed` : ''}`);
		await raw.boss.createQueue('bench-pickup-poll');
		const polling = await rawPickup(raw.boss, 'bench-pickup-poll', { pollingIntervalSeconds: 0.5 }, pollingSamples);
		console.log(`  raw     send() → work() polling every 0.5 s (batchSize 1): ${fmtLatency(polling.summary)}${polling.missed ? `, ${polling.missed} missed` : ''}`);
		return { engine, rawNotify: notify.summary, rawPolling: polling.summary };
	} finally {
		await raw.stop();
	}
}
