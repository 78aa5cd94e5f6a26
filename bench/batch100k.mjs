// Scale check of batches (issue 4): a batch of 100,000 items in chunks of 1,000, sent in pages to a
// real engine process, delivered to a real HTTP receiver. Prints the time of each phase and the
// engine's resident memory (sampled from /proc) before, during and after, so "memory stays flat"
// is a measured figure, not a claim.
//
//   npm run build -w engine
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/batch100k.mjs
//
// Settings (environment): ITEMS (100000), CHUNK (1000), CONCURRENCY (4), PAGE (10000 items per
// request), ENGINE_DIST (engine/dist). The run uses fresh schemas and drops them afterwards.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const env = process.env;
const DATABASE_URL = env.DATABASE_URL ?? env.TEST_DATABASE_URL;
if (!DATABASE_URL) {
	console.error('batch100k: set DATABASE_URL (a PostgreSQL the bench may create schemas in)');
	process.exit(2);
}
const ITEMS = Number(env.ITEMS ?? 100_000);
const CHUNK = Number(env.CHUNK ?? 1000);
const CONCURRENCY = Number(env.CONCURRENCY ?? 4);
const PAGE = Number(env.PAGE ?? 10_000);
const ENGINE_DIST = path.resolve(root, env.ENGINE_DIST ?? 'engine/dist');
const API_KEY = `bench-${randomBytes(12).toString('hex')}`;
const schema = `bench_${randomBytes(4).toString('hex')}`;

const item = (i) => ({ id: i, email: `user${i}@example.com`, amount: i % 1000 });

// --- the receiver: answers every chunk at once and checks what it got -------------------------
const seen = { chunks: 0, items: 0, sumIds: 0 };
const receiver = http.createServer((req, res) => {
	const parts = [];
	req.on('data', (c) => parts.push(c));
	req.on('end', () => {
		const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
		seen.chunks += 1;
		seen.items += body.payload.items.length;
		for (const it of body.payload.items) seen.sumIds += it.id;
		res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
	});
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/chunk`;

// --- the engine: its own process, so its RSS is its own -----------------------------------------
const port = await new Promise((resolve) => {
	const s = http.createServer().listen(0, '127.0.0.1', () => {
		const p = s.address().port;
		s.close(() => resolve(p));
	});
});
const engine = spawn(process.execPath, [path.join(ENGINE_DIST, 'main.js'), 'start'], {
	env: { ...env, DATABASE_URL, DATABASE_SCHEMA: schema, API_KEYS: API_KEY, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
	stdio: ['ignore', 'ignore', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
const rssMb = () => {
	try {
		const line = readFileSync(`/proc/${engine.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
		return Math.round(Number(line.split(/\s+/)[1]) / 1024);
	} catch {
		return NaN;
	}
};
const phases = {};
let phase = 'idle';
const sampler = setInterval(() => {
	const mb = rssMb();
	phases[phase] = Math.max(phases[phase] ?? 0, mb);
}, 50);

async function api(method, url, body) {
	const res = await fetch(base + url, {
		method,
		headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
		body: body ? JSON.stringify(body) : undefined,
	});
	const json = await res.json().catch(() => null);
	if (res.status >= 400) throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(json)}`);
	return json;
}

async function cleanup() {
	clearInterval(sampler);
	if (engine.exitCode === null) {
		engine.kill('SIGTERM');
		await new Promise((resolve) => engine.once('exit', resolve));
	}
	receiver.close();
	const client = new pg.Client({ connectionString: DATABASE_URL });
	await client.connect();
	await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
	await client.query(`DROP SCHEMA IF EXISTS "${schema}_pgboss" CASCADE`);
	await client.end();
}

try {
	for (const deadline = Date.now() + 60_000; ; ) {
		const ok = await fetch(`${base}/v1/health/ready`).then((r) => r.ok, () => false);
		if (ok) break;
		if (Date.now() > deadline || engine.exitCode !== null) throw new Error('engine did not become ready');
		await new Promise((r) => setTimeout(r, 100));
	}
	await new Promise((r) => setTimeout(r, 500));
	const idleRss = rssMb();
	await api('POST', '/v1/queues', { name: 'bench' });

	phase = 'upload';
	const t0 = performance.now();
	const { id } = await api('POST', '/v1/batches', { queue: 'bench', name: 'rows', url: receiverUrl, chunkSize: CHUNK, concurrency: CONCURRENCY, open: true });
	for (let from = 0; from < ITEMS; from += PAGE) {
		const items = Array.from({ length: Math.min(PAGE, ITEMS - from) }, (_, k) => item(from + k));
		await api('POST', `/v1/batches/${id}/items`, { items });
	}
	const t1 = performance.now();

	phase = 'processing';
	await api('POST', `/v1/batches/${id}/start`);
	let batch;
	let reads = 0;
	let readMs = 0;
	for (;;) {
		const r0 = performance.now();
		batch = await api('GET', `/v1/batches/${id}`);
		readMs += performance.now() - r0;
		reads += 1;
		if (batch.finishedAt) break;
		await new Promise((r) => setTimeout(r, 100));
	}
	const t2 = performance.now();
	phase = 'after';
	await new Promise((r) => setTimeout(r, 300));

	const expectedSum = (ITEMS * (ITEMS - 1)) / 2;
	const summary = {
		items: ITEMS,
		chunkSize: CHUNK,
		concurrency: CONCURRENCY,
		pageSize: PAGE,
		state: batch.state,
		counters: { items: batch.items, chunks: batch.chunks },
		receiverSaw: { chunks: seen.chunks, items: seen.items, idsCorrect: seen.sumIds === expectedSum },
		seconds: { upload: +((t1 - t0) / 1000).toFixed(2), processing: +((t2 - t1) / 1000).toFixed(2), total: +((t2 - t0) / 1000).toFixed(2) },
		itemsPerSecond: Math.round(ITEMS / ((t2 - t1) / 1000)),
		batchReportedThroughputPerSecond: batch.throughputPerSecond,
		statusReadMsAvg: +(readMs / reads).toFixed(2),
		engineRssMb: { idle: idleRss, peakUpload: phases.upload, peakProcessing: phases.processing, after: phases.after },
	};
	console.log(JSON.stringify(summary, null, 2));
	const ok = batch.state === 'completed' && seen.items === ITEMS && seen.sumIds === expectedSum && batch.items.processed === ITEMS;
	await cleanup();
	process.exit(ok ? 0 : 1);
} catch (error) {
	console.error(error);
	await cleanup();
	process.exit(1);
}
