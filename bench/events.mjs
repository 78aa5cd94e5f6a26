// 8. The live event stream (GET /v1/events): N subscribers on one engine while tasks change state
// at a steady rate (each task makes three changes: queued, active, completed). Measured twice on a
// fresh engine each, with the same load: without subscribers, and with them; the difference in the
// engine's CPU is what streaming costs. Event lag: arrival at a subscriber − the change's time (the
// writing transaction's now(), database clock, same machine). Every subscriber must receive every
// change of the run: a missing event is reported.
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { quoteIdent } from './database.mjs';
import { startEngine } from './engineProcess.mjs';
import { startReceiver } from './receiver.mjs';
import { fmtLatency, fmtMs, latencySummary, nowMs, sleep, waitFor } from './stats.mjs';

const STATES_PER_TASK = 3;
const TICK_MS = 100;
const QUEUE = 'bench-events';
const DRAIN_TIMEOUT_MS = 60_000;
/** Trigger cost: statements per block of one mode, and the uncounted ones after each switch. */
const BLOCK = 20;
const WARM = 3;

/** One SSE client that counts task.state events and keeps each one's lag. */
function subscribe(engine, agent) {
	const { hostname, port } = new URL(engine.baseUrl);
	return new Promise((resolve, reject) => {
		const req = http.get({ agent, hostname, port, path: '/v1/events?types=task.state', headers: { authorization: `Bearer ${engine.apiKey}` } }, (res) => {
			if (res.statusCode !== 200) return reject(new Error(`GET /v1/events → ${res.statusCode}`));
			const sub = { count: 0, lags: [], recording: false, close: () => req.destroy() };
			let buffer = '';
			res.setEncoding('utf8').on('data', (chunk) => {
				const arrived = nowMs();
				buffer += chunk;
				let cut;
				while ((cut = buffer.indexOf('\n\n')) >= 0) {
					const block = buffer.slice(0, cut);
					buffer = buffer.slice(cut + 2);
					if (!block.startsWith('event: task.state')) continue;
					sub.count += 1;
					if (!sub.recording) continue;
					// The change's time without parsing the whole JSON: "at" is its last field.
					const at = /"at":"([^"]+)"/.exec(block);
					if (at) sub.lags.push(arrived - Date.parse(at[1]));
				}
			});
			res.once('data', () => resolve(sub)); // ": connected"
		});
		req.on('error', reject);
	});
}

/** Enqueues `perTick` tasks every 100 ms for `seconds`, on a fixed schedule (a late tick does not shift the rest). */
async function steadyLoad(engine, perTick, seconds) {
	const ticks = Math.round((seconds * 1000) / TICK_MS);
	const began = performance.now();
	const calls = [];
	for (let i = 0; i < ticks; i++) {
		const wait = began + i * TICK_MS - performance.now();
		if (wait > 0) await sleep(wait);
		calls.push(engine.call('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: perTick }, (_, j) => ({ queue: QUEUE, name: `e${i}-${j}` })) }, [201]));
	}
	await Promise.all(calls);
	return ticks * perTick;
}

async function eventRun(ctx, { subscribers, changesPerSecond, seconds }) {
	const receiver = await startReceiver();
	const engine = await startEngine(ctx).catch(async (error) => {
		await receiver.close();
		throw error;
	});
	const agent = new http.Agent({ keepAlive: false });
	const subs = [];
	try {
		await engine.call('POST', '/v1/queues', { name: QUEUE, concurrency: 50 });
		await engine.call('POST', `/v1/queues/${QUEUE}/handlers`, { url: receiver.url });
		for (let i = 0; i < subscribers; i++) subs.push(await subscribe(engine, agent));
		// Warm-up: connections, prepared statements, the reader's first reads.
		const warm = 50;
		await engine.call('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: warm }, (_, i) => ({ queue: QUEUE, name: `warm${i}` })) }, [201]);
		await receiver.waitForCount(warm, DRAIN_TIMEOUT_MS);
		await waitFor(() => subs.every((s) => s.count >= warm * STATES_PER_TASK), 10_000);
		for (const s of subs) s.recording = true;
		const before = subs.map((s) => s.count);

		const loopDelay = monitorEventLoopDelay({ resolution: 10 });
		loopDelay.enable();
		const cpuBefore = engine.cpuSeconds();
		const began = performance.now();
		const perTick = Math.max(1, Math.round((changesPerSecond / STATES_PER_TASK) * (TICK_MS / 1000)));
		const tasks = await steadyLoad(engine, perTick, seconds);
		const delivered = await receiver.waitForCount(warm + tasks, DRAIN_TIMEOUT_MS);
		const expected = tasks * STATES_PER_TASK;
		await waitFor(() => subs.every((s, i) => s.count - before[i] >= expected), DRAIN_TIMEOUT_MS);
		// CPU over the load and its drain; a quiet engine (no subscribers) is measured over the same span.
		const elapsedMs = performance.now() - began;
		const cpuSeconds = engine.cpuSeconds() - cpuBefore;
		loopDelay.disable();
		const missing = subs.reduce((n, s, i) => n + Math.max(0, expected - (s.count - before[i])), 0);
		const lags = latencySummary(subs.flatMap((s) => s.lags));
		return {
			subscribers,
			tasks,
			changes: expected,
			ratePerSecond: (expected * 1000) / elapsedMs,
			allDelivered: delivered,
			elapsedMs,
			cpuSeconds,
			cpuShare: cpuSeconds / (elapsedMs / 1000),
			// The same work in both runs: CPU per 1,000 state changes compares them even when one drained slower.
			cpuMsPer1000: (cpuSeconds * 1e6) / expected,
			lag: lags,
			missing,
			clientLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
		};
	} finally {
		for (const s of subs) s.close();
		agent.destroy();
		await engine.stop();
		await receiver.close();
	}
}

/**
 * What the event log's triggers add to the statements that move tasks, with nothing else running:
 * the same transaction (one UPDATE of `rows` tasks' state, committed) timed with the triggers on and
 * off (DISABLE TRIGGER), alternating, on a paused queue of a fresh engine. Median per transaction.
 */
async function triggerCost(ctx, { rows, rounds = 300 }) {
	const engine = await startEngine(ctx);
	const client = await ctx.pool.connect();
	try {
		await engine.call('POST', '/v1/queues', { name: 'bench-trigger', paused: true });
		const created = await engine.call('POST', '/v1/tasks/bulk', { tasks: Array.from({ length: rows }, (_, i) => ({ queue: 'bench-trigger', name: `t${i}` })) }, [201]);
		const ids = created.items.map((t) => t.id);
		const tasks = `${quoteIdent(engine.schema)}.tasks`;
		const times = { on: [], off: [] };
		// Blocks of each mode (ALTER TABLE invalidates cached plans: the first statements after it are not counted).
		let flip = 0;
		for (let block = 0; block < (rounds * 2) / BLOCK; block++) {
			const mode = block % 2 === 0 ? 'on' : 'off';
			await client.query(`ALTER TABLE ${tasks} ${mode === 'on' ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
			for (let i = 0; i < BLOCK + WARM; i++) {
				const state = flip++ % 2 === 0 ? 'active' : 'queued';
				const began = performance.now();
				await client.query('BEGIN');
				await client.query(`UPDATE ${tasks} SET state = $2 WHERE id = ANY($1::uuid[])`, [ids, state]);
				await client.query('COMMIT');
				if (i >= WARM) times[mode].push(performance.now() - began);
			}
		}
		await client.query(`ALTER TABLE ${tasks} ENABLE TRIGGER USER`);
		const on = latencySummary(times.on).p50;
		const off = latencySummary(times.off).p50;
		return { rows, on, off, perRowUs: ((on - off) * 1000) / rows };
	} finally {
		client.release();
		await engine.stop();
	}
}

export async function measureEvents(ctx, { subscribers, changesPerSecond, seconds }) {
	const trigger = [];
	for (const rows of [1, 10, 500]) {
		const t = await triggerCost(ctx, { rows });
		trigger.push(t);
		console.log(
			`  trigger transaction moving ${rows} task${rows > 1 ? 's' : ''}: median ${fmtMs(t.off)} without the event log's triggers, ${fmtMs(t.on)} with them` +
				` (+${fmtMs(t.on - t.off)}, ${t.perRowUs.toFixed(0)} µs per state change)`,
		);
	}
	const runs = [];
	for (const n of [0, subscribers]) {
		const run = await eventRun(ctx, { subscribers: n, changesPerSecond, seconds });
		runs.push(run);
		console.log(
			`  engine  ${n} subscribers, ${run.tasks} tasks → ${run.changes} state changes (${Math.round(run.ratePerSecond)}/s over ${(run.elapsedMs / 1000).toFixed(1)} s):` +
				` engine CPU ${run.cpuSeconds.toFixed(1)} s (${Math.round(run.cpuShare * 100)}% of one core over the run, ${Math.round(run.cpuMsPer1000)} ms per 1,000 changes)` +
				(n > 0 ? `; event lag ${fmtLatency(run.lag)}; ${run.missing} events missing; subscriber process event-loop delay p99 ${fmtMs(run.clientLoopDelayP99Ms)}` : ''),
		);
	}
	const [quiet, loaded] = runs;
	// CPU per 1,000 changes × the rate = share of a core at that rate.
	const extra = ((loaded.cpuMsPer1000 - quiet.cpuMsPer1000) * changesPerSecond) / 1e6;
	console.log(
		`  engine  streaming to ${subscribers} subscribers costs ${Math.round(loaded.cpuMsPer1000 - quiet.cpuMsPer1000)} ms of engine CPU per 1,000 changes:` +
			` ${Math.round(extra * 100)}% of one core at ${changesPerSecond.toLocaleString('en-US')} changes/s (${Math.round((quiet.cpuMsPer1000 * changesPerSecond) / 1e4)}% → ${Math.round((loaded.cpuMsPer1000 * changesPerSecond) / 1e4)}%)`,
	);
	return { subscribers, changesPerSecond, quiet, loaded, extraCpuShare: extra, trigger };
}
