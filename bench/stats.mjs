// Small numeric helpers shared by the measurements: percentiles, a seeded random, formatting, and
// what the machine is doing (its load, and the CPU a run's processes use).
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Nearest-rank percentile of `values` (0 < p ≤ 100); null for an empty list. */
export function percentile(values, p) {
	if (values.length === 0) return null;
	const sorted = [...values].sort((a, b) => a - b);
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** p50/p99/max of a list of milliseconds. */
export function latencySummary(values) {
	return { n: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: percentile(values, 100) };
}

/** mulberry32: a deterministic random in [0, 1), so every run uses the same delay spread. */
export function seededRandom(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Wall clock with sub-millisecond resolution, comparable with database timestamps on the same machine. */
export function nowMs() {
	return performance.timeOrigin + performance.now();
}

export const perSecond = (count, ms) => (ms > 0 ? (count * 1000) / ms : 0);

export function fmtRate(n) {
	return n === null || n === undefined ? 'n/a' : `${Math.round(n).toLocaleString('en-US')}/s`;
}

export function fmtMs(n) {
	if (n === null || n === undefined) return 'n/a';
	return n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(1)} ms`;
}

export function fmtLatency(s) {
	return `p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)}, max ${fmtMs(s.max)} (n=${s.n})`;
}

export function fmtMiB(bytes) {
	return bytes === null || bytes === undefined ? 'n/a' : `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Runs `count` calls of `fn(i)` with at most `inFlight` at once; resolves when all are done. */
export async function runPool(count, inFlight, fn) {
	let next = 0;
	const worker = async () => {
		while (next < count) {
			const i = next++;
			await fn(i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then returns the last value). */
export async function waitFor(check, timeoutMs, intervalMs = 20) {
	const until = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value || Date.now() >= until) return value;
		await sleep(intervalMs);
	}
}

/** Sequential `SELECT 1` round trips through `pool`: how busy the database (and machine) is right now. */
export async function probeRoundTrip(pool, count = 50) {
	const times = [];
	for (let i = 0; i < count; i++) {
		const began = performance.now();
		await pool.query('SELECT 1');
		times.push(performance.now() - began);
	}
	return latencySummary(times);
}

/**
 * How busy the machine is right now: the load averages and a SELECT 1 probe, with a label to print
 * beside a measurement (absolute rates move with them; other work shares this machine).
 */
export async function machineState(pool) {
	const rt = await probeRoundTrip(pool);
	const load = os.loadavg();
	return { load, rt, label: `load average ${load.map((l) => l.toFixed(1)).join(' ')}; SELECT 1 round trip p50 ${fmtMs(rt.p50)}, p99 ${fmtMs(rt.p99)}` };
}

/** USER_HZ: /proc counts CPU time in these ticks; 100 on Linux x86-64 and arm64. */
export const CLOCK_TICKS = 100;

/** The data folder of the embedded PostgreSQL the run uses (null: a configured server, not counted). */
let serverDataDir = null;

export function countServerCpu(dataDir) {
	serverDataDir = dataDir;
}

/**
 * CPU time (user + system, seconds) of the processes taking part in a run: this process (the
 * clients, raw pg-boss, the receiver) and its descendants (the engine, the bare server), and the
 * embedded PostgreSQL (its server, found by its data folder, and the backends under it). Other
 * work on the machine is left out, so the figure holds on a loaded machine too. Null where there
 * is no /proc.
 */
export function participantsCpuSeconds() {
	let entries;
	try {
		entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
	} catch {
		return null;
	}
	const procs = new Map();
	for (const pid of entries) {
		try {
			const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
			// After the parenthesised command: state, ppid, … utime and stime are the 12th and 13th.
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
			procs.set(Number(pid), { ppid: Number(fields[1]), comm, cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS });
		} catch {
			// gone meanwhile
		}
	}
	const roots = [process.pid];
	if (serverDataDir !== null) {
		for (const [pid, p] of procs) {
			if (!p.comm.startsWith('postgres')) continue;
			try {
				const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
				if (args.some((arg) => arg.startsWith(serverDataDir))) roots.push(pid);
			} catch {
				// gone meanwhile
			}
		}
	}
	const children = new Map();
	for (const [pid, p] of procs) {
		const siblings = children.get(p.ppid);
		if (siblings) siblings.push(pid);
		else children.set(p.ppid, [pid]);
	}
	let total = 0;
	const seen = new Set();
	const walk = [...roots];
	while (walk.length > 0) {
		const pid = walk.pop();
		if (seen.has(pid)) continue;
		seen.add(pid);
		total += procs.get(pid)?.cpu ?? 0;
		walk.push(...(children.get(pid) ?? []));
	}
	return total;
}

/**
 * What a throughput run cost in CPU per item, over the processes taking part (participantsCpuSeconds:
 * client, server, PostgreSQL), how many cores that kept busy, and the rate that cost allows with
 * every core busy. When that bound is itself below a target, the target cannot be met at this
 * cost on this machine, however the work is scheduled. `cpuBefore` is participantsCpuSeconds() at
 * the run's start.
 */
export function cpuBound(cpuBefore, count, ms) {
	const cpuAfter = participantsCpuSeconds();
	if (cpuBefore === null || cpuAfter === null || count === 0 || ms <= 0) return null;
	const cpuMs = (cpuAfter - cpuBefore) * 1000;
	const cores = os.availableParallelism();
	const msPerItem = cpuMs / count;
	return { msPerItem, busyCores: cpuMs / ms, cores, maxRate: msPerItem > 0 ? (cores * 1000) / msPerItem : null, serverCounted: serverDataDir !== null };
}

export function fmtCpuBound(b) {
	if (b === null) return 'CPU of the run n/a';
	const who = b.serverCounted ? 'client, engine, PostgreSQL' : 'client and engine; the configured PostgreSQL not counted';
	return `CPU of the run (${who}) ${b.msPerItem.toFixed(3)} ms per item, ${b.busyCores.toFixed(2)} of ${b.cores} cores → at most ${fmtRate(b.maxRate)} with every core busy`;
}
