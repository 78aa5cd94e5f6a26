// 2. Bulk enqueue: POST /v1/tasks/bulk with 1,000 tasks per call, 4 calls in flight, vs raw
// boss.insert(queue, 1,000 jobs) the same way. Also the helpers the delivery run uses to fill a queue.
import { startEngine } from './engineProcess.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { cpuBound, fmtCpuBound, fmtRate, participantsCpuSeconds, perSecond, runPool } from './stats.mjs';

export const BULK_SIZE = 1000;
export const BULK_IN_FLIGHT = 4;

/**
 * Enqueues `total` no-op tasks through the bulk API, BULK_SIZE per call, BULK_IN_FLIGHT at once;
 * `fields(i)` adds fields to task i (a concurrencyKey…).
 */
export async function engineBulkEnqueue(engine, queue, total, fields = () => ({})) {
	const calls = Math.ceil(total / BULK_SIZE);
	await runPool(calls, BULK_IN_FLIGHT, async (c) => {
		const size = Math.min(BULK_SIZE, total - c * BULK_SIZE);
		const tasks = Array.from({ length: size }, (_, i) => ({ queue, name: 'noop', payload: { i: c * BULK_SIZE + i }, ...fields(c * BULK_SIZE + i) }));
		await engine.call('POST', '/v1/tasks/bulk', { tasks }, [201]);
	});
}

/** The same for raw pg-boss with insert(). */
export async function rawBulkInsert(boss, queue, total) {
	const calls = Math.ceil(total / BULK_SIZE);
	await runPool(calls, BULK_IN_FLIGHT, async (c) => {
		const size = Math.min(BULK_SIZE, total - c * BULK_SIZE);
		await boss.insert(queue, Array.from({ length: size }, (_, i) => ({ data: { i: c * BULK_SIZE + i } })));
	});
}

export async function measureBulkEnqueue(ctx, { calls }) {
	const total = calls * BULK_SIZE;
	const engine = await startEngine(ctx);
	let engineRate;
	let engineBound;
	try {
		const queue = 'bench-bulk';
		await engine.call('POST', '/v1/queues', { name: queue });
		await engineBulkEnqueue(engine, queue, BULK_SIZE); // warm-up
		const cpuBefore = engine.cpuSeconds();
		const cpuAtStart = participantsCpuSeconds();
		const began = performance.now();
		await engineBulkEnqueue(engine, queue, total);
		const ms = performance.now() - began;
		engineBound = cpuBound(cpuAtStart, total, ms);
		const cpuMs = (engine.cpuSeconds() - cpuBefore) * 1000;
		engineRate = perSecond(total, ms);
		const sample = await engine.api('POST', '/v1/tasks/bulk', { tasks: [{ queue, name: 'noop', payload: { i: 0 } }] });
		console.log(
			`  engine  POST /v1/tasks/bulk  ${calls} calls × ${BULK_SIZE}, ${BULK_IN_FLIGHT} in flight: ${Math.round(ms)} ms → ${fmtRate(engineRate)}` +
				` (engine CPU ${(cpuMs / total).toFixed(3)} ms per task; the response echoes each task, ~${JSON.stringify(sample.body).length} bytes per task)` +
				`\n          ${fmtCpuBound(engineBound)}`,
		);
	} finally {
		await engine.stop();
	}

	const raw = await startRawBoss(ctx);
	let rawRate;
	let rawBound;
	try {
		const queue = 'bench-insert';
		await raw.boss.createQueue(queue);
		await rawBulkInsert(raw.boss, queue, BULK_SIZE);
		const cpuBefore = process.cpuUsage();
		const cpuAtStart = participantsCpuSeconds();
		const began = performance.now();
		await rawBulkInsert(raw.boss, queue, total);
		const ms = performance.now() - began;
		rawBound = cpuBound(cpuAtStart, total, ms);
		const cpu = process.cpuUsage(cpuBefore);
		rawRate = perSecond(total, ms);
		console.log(
			`  raw     boss.insert()        ${calls} calls × ${BULK_SIZE}, ${BULK_IN_FLIGHT} in flight: ${Math.round(ms)} ms → ${fmtRate(rawRate)}` +
				` (benchmark process CPU ${((cpu.user + cpu.system) / 1000 / total).toFixed(3)} ms per job)\n          ${fmtCpuBound(rawBound)}`,
		);
	} finally {
		await raw.stop();
	}
	return { engineRate, rawRate, bounds: { engine: engineBound, raw: rawBound } };
}
