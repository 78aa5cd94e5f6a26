// 1. Single-task enqueue throughput: 32 clients doing POST /v1/tasks to a queue with no handler
// (nothing is delivered) vs raw boss.send() with 32 calls in flight. Two HTTP clients, one after
// the other on the same engine, each with its own warm-up and queue: node:http with a keep-alive
// agent, and Node's global fetch (undici: keep-alive, no limit on connections per origin), which
// is what most callers' code uses and costs more per request on the client side. Then each client
// against a bare server (bareServer.mjs: no database, no engine code) for its own ceiling here.
import { startBareServer } from './bareServer.mjs';
import { startEngine } from './engineProcess.mjs';
import { startRawBoss } from './rawBoss.mjs';
import { cpuBound, fmtCpuBound, fmtRate, participantsCpuSeconds, perSecond, runPool } from './stats.mjs';

const CONCURRENCY = 32;

/** POST /v1/tasks through Node's global fetch; resolves with the status, the body read to the end (so the connection is reused). */
async function fetchEnqueue(engine, body) {
	const res = await fetch(`${engine.baseUrl}/v1/tasks`, {
		method: 'POST',
		headers: { authorization: `Bearer ${engine.apiKey}`, 'content-type': 'application/json' },
		body: JSON.stringify(body),
	});
	await res.arrayBuffer();
	return res.status;
}

const CLIENTS = {
	'node:http': async (engine, body) => (await engine.api('POST', '/v1/tasks', body)).status,
	fetch: fetchEnqueue,
};

/**
 * `count` enqueues (after `warmup`) through `client`, 32 in flight, into `queue` of `server` (the
 * engine, or the bare server); resolves with the rate and the run's CPU bound (stats.mjs,
 * cpuBound), and prints them with both sides' CPU.
 */
async function clientRun(server, label, client, queue, { count, warmup }) {
	const post = CLIENTS[client];
	let failures = 0;
	const enqueue = async (i) => {
		if ((await post(server, { queue, name: 'noop', payload: { i } })) !== 201) failures += 1;
	};
	await runPool(warmup, CONCURRENCY, enqueue);
	const cpuBefore = server.cpuSeconds();
	const clientCpuBefore = process.cpuUsage();
	const cpuAtStart = participantsCpuSeconds();
	const began = performance.now();
	await runPool(count, CONCURRENCY, enqueue);
	const ms = performance.now() - began;
	const bound = cpuBound(cpuAtStart, count, ms);
	const cpuMs = (server.cpuSeconds() - cpuBefore) * 1000;
	const clientCpu = process.cpuUsage(clientCpuBefore);
	if (failures > 0) throw new Error(`${failures} enqueues with ${client} did not answer 201`);
	const rate = perSecond(count, ms);
	console.log(
		`  ${label} POST /v1/tasks, ${client.padEnd(9)} ${count} tasks, ${CONCURRENCY} in flight: ${Math.round(ms)} ms → ${fmtRate(rate)}` +
			` (server CPU ${Math.round((100 * cpuMs) / ms)}% of one core, ${(cpuMs / count).toFixed(2)} ms per task;` +
			` client (benchmark process) CPU ${((clientCpu.user + clientCpu.system) / 1000 / count).toFixed(2)} ms per task)` +
			`\n         ${fmtCpuBound(bound)}`,
	);
	return { rate, bound };
}

export async function measureSingleEnqueue(ctx, sizes) {
	const engine = await startEngine(ctx);
	const engineRates = {};
	const bounds = {};
	let answer;
	try {
		for (const client of Object.keys(CLIENTS)) {
			const queue = `bench-enqueue-${client.replace(/\W/g, '')}`;
			await engine.call('POST', '/v1/queues', { name: queue });
			({ rate: engineRates[client], bound: bounds[client] } = await clientRun(engine, 'engine', client, queue, sizes));
		}
		answer = await engine.call('POST', '/v1/tasks', { queue: 'bench-enqueue-fetch', name: 'noop', payload: { i: 0 } }, [201]);
	} finally {
		await engine.stop();
	}

	// The same clients against a server that answers the engine's 201 at once: what they reach with
	// nothing behind the server is the most they can reach here.
	const bare = await startBareServer(answer);
	const ceilings = {};
	try {
		for (const client of Object.keys(CLIENTS)) ceilings[client] = (await clientRun(bare, 'bare  ', client, 'bench-bare', sizes)).rate;
	} finally {
		await bare.stop();
	}

	const { count, warmup } = sizes;
	const raw = await startRawBoss(ctx);
	let rawRate;
	try {
		const queue = 'bench-send';
		await raw.boss.createQueue(queue);
		const send = (i) => raw.boss.send(queue, { i });
		await runPool(warmup, CONCURRENCY, send);
		const cpuBefore = process.cpuUsage();
		const cpuAtStart = participantsCpuSeconds();
		const began = performance.now();
		await runPool(count, CONCURRENCY, send);
		const ms = performance.now() - began;
		bounds.raw = cpuBound(cpuAtStart, count, ms);
		const cpu = process.cpuUsage(cpuBefore);
		const cpuMs = (cpu.user + cpu.system) / 1000;
		rawRate = perSecond(count, ms);
		console.log(
			`  raw     boss.send()                ${count} jobs,  ${CONCURRENCY} in flight (pool of 10): ${Math.round(ms)} ms → ${fmtRate(rawRate)}` +
				` (benchmark process CPU ${(cpuMs / count).toFixed(2)} ms per job)\n         ${fmtCpuBound(bounds.raw)}`,
		);
	} finally {
		await raw.stop();
	}
	return { engineRate: engineRates['node:http'], fetchRate: engineRates.fetch, rawRate, ceilings, bounds };
}
