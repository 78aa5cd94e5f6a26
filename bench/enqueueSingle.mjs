// 1. Single-task enqueue throughput: 32 keep-alive HTTP clients doing POST /v1/tasks to a queue
// with no handler (nothing is delivered) vs raw boss.send() with 32 calls in flight.
import { startEngine } from './engineProcess.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { fmtRate, perSecond, runPool } from './stats.mjs';

const CONCURRENCY = 32;

export async function measureSingleEnqueue(ctx, { count, warmup }) {
	const engine = await startEngine(ctx);
	let engineRate;
	try {
		const queue = 'bench-enqueue';
		await engine.call('POST', '/v1/queues', { name: queue });
		let failures = 0;
		const enqueue = async (i) => {
			const res = await engine.api('POST', '/v1/tasks', { queue, name: 'noop', payload: { i } });
			if (res.status !== 201) failures += 1;
		};
		await runPool(warmup, CONCURRENCY, enqueue);
		const cpuBefore = engine.cpuSeconds();
		const began = performance.now();
		await runPool(count, CONCURRENCY, enqueue);
		const ms = performance.now() - began;
		const cpuMs = (engine.cpuSeconds() - cpuBefore) * 1000;
		if (failures > 0) throw new Error(`${failures} enqueues did not answer 201`);
		engineRate = perSecond(count, ms);
		console.log(
			`  engine  POST /v1/tasks   ${count} tasks, ${CONCURRENCY} clients: ${Math.round(ms)} ms → ${fmtRate(engineRate)}` +
				` (engine CPU ${Math.round((100 * cpuMs) / ms)}% of one core, ${(cpuMs / count).toFixed(2)} ms per task)`,
		);
	} finally {
		await engine.stop();
	}

	const raw = await startRawBoss(ctx);
	let rawRate;
	try {
		const queue = 'bench-send';
		await raw.boss.createQueue(queue);
		const send = (i) => raw.boss.send(queue, { i });
		await runPool(warmup, CONCURRENCY, send);
		const cpuBefore = process.cpuUsage();
		const began = performance.now();
		await runPool(count, CONCURRENCY, send);
		const ms = performance.now() - began;
		const cpu = process.cpuUsage(cpuBefore);
		const cpuMs = (cpu.user + cpu.system) / 1000;
		rawRate = perSecond(count, ms);
		console.log(
			`  raw     boss.send()      ${count} jobs,  ${CONCURRENCY} in flight (pool of 10): ${Math.round(ms)} ms → ${fmtRate(rawRate)}` +
				` (benchmark process CPU ${(cpuMs / count).toFixed(2)} ms per job)`,
		);
	} finally {
		await raw.stop();
	}
	return { engineRate, rawRate };
}
