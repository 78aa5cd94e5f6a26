import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';

interface Sample {
	name: string;
	labels: Record<string, string>;
	value: number;
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is a comment, a HELP/TYPE line
 * or a sample; every sample belongs to a family with one TYPE. Throws on anything else.
 */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
	const types = new Map<string, string>();
	const samples: Sample[] = [];
	const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
	// Values are what Go's ParseFloat reads (Prometheus's own parser): NaN and Inf in any case.
	const sampleLine = new RegExp(`^(${name})(?:\\{(.*)\\})? ([+-]?(?:[0-9.]+(?:[eE][+-]?[0-9]+)?|[Nn][Aa][Nn]|[Ii][Nn][Ff]))(?: -?[0-9]+)?$`);
	const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
	for (const line of text.split('\n')) {
		if (line === '') continue;
		const meta = new RegExp(`^# (HELP|TYPE) (${name}) (.*)$`).exec(line);
		if (meta) {
			if (meta[1] === 'TYPE') {
				if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3])) throw new Error(`bad TYPE: ${line}`);
				if (types.has(meta[2])) throw new Error(`family declared twice: ${line}`);
				types.set(meta[2], meta[3]);
			}
			continue;
		}
		if (line.startsWith('#')) continue;
		const m = sampleLine.exec(line);
		if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
		const labels: Record<string, string> = {};
		if (m[2]) {
			label.lastIndex = 0;
			while (label.lastIndex < m[2].length) {
				const l = label.exec(m[2]);
				if (!l) throw new Error(`bad labels: ${line}`);
				labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
			}
		}
		const family = m[1].replace(/_(bucket|sum|count)$/, '');
		if (!types.has(m[1]) && !types.has(family)) throw new Error(`sample without TYPE: ${line}`);
		const raw = m[3].toLowerCase();
		const value = raw.endsWith('nan') ? NaN : raw.endsWith('inf') ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
		samples.push({ name: m[1], labels, value });
	}
	return { samples, types };
}

function withoutLe(labels: Record<string, string>): Record<string, string> {
	return Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'le'));
}

/** Sum of the samples called `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
	return samples
		.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
		.reduce((n, s) => n + s.value, 0);
}

describe('/metrics', () => {
	let te: TestEngine;
	let open: TestEngine;
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	const scrape = async (engine: TestEngine = te) => {
		const r = await engine.api('GET', '/metrics');
		expect(r.status).toBe(200);
		return parsePrometheus(r.body as string).samples;
	};

	beforeAll(async () => {
		te = await startTestEngine();
		// A second engine in the same process: its own registry, its own figures.
		open = await startTestEngine({ METRICS_AUTH: 'false' }, { background: false });
		receiver = await startReceiver((req) => {
			if (req.json?.payload?.kind === 'fail') return { status: 422 };
			if (req.json?.payload?.kind === 'flaky') return { status: 503 };
			return {};
		});
		await te.api('POST', '/v1/queues', { name: 'm' });
		await te.api('POST', '/v1/queues/m/handlers', { url: receiver.url });
	});

	afterAll(async () => {
		await te?.stop();
		await open?.stop();
		await receiver?.close();
	});

	it('needs an API key unless METRICS_AUTH=false', async () => {
		expect((await te.api('GET', '/metrics', undefined, { auth: false })).status).toBe(401);
		const anonymous = await open.api('GET', '/metrics', undefined, { auth: false });
		expect(anonymous.status).toBe(200);
		expect(anonymous.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
	});

	it('is valid Prometheus text with process metrics and consistent histograms', async () => {
		const r = await te.api('GET', '/metrics');
		const { samples, types } = parsePrometheus(r.body as string);
		for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
			expect(types.has(name), name).toBe(true);
		}
		expect(types.get('task_engine_deliveries_total')).toBe('counter');
		expect(types.get('task_engine_delivery_lateness_seconds')).toBe('histogram');
		expect(types.get('task_engine_queue_tasks')).toBe('gauge');
		// Every histogram series: cumulative buckets ending in +Inf = _count.
		const series = new Map<string, Sample[]>();
		for (const s of samples.filter((x) => x.name.endsWith('_bucket'))) {
			const key = `${s.name}${JSON.stringify(withoutLe(s.labels))}`;
			series.set(key, [...(series.get(key) ?? []), s]);
		}
		expect(series.size).toBeGreaterThan(0);
		for (const [key, buckets] of series) {
			for (let i = 1; i < buckets.length; i++) expect(buckets[i].value, key).toBeGreaterThanOrEqual(buckets[i - 1].value);
			const inf = buckets.find((b) => b.labels.le === '+Inf');
			expect(inf!.value, key).toBe(total(samples, inf!.name.replace(/_bucket$/, '_count'), withoutLe(inf!.labels)));
		}
	});

	it('counts deliveries by outcome and status class, retries, dead letters, duration and lateness', async () => {
		const before = await scrape();
		const enqueue = (kind: string, extra: Record<string, unknown> = {}) =>
			te.api('POST', '/v1/tasks', { queue: 'm', name: kind, payload: { kind }, ...extra });
		for (let i = 0; i < 3; i++) await enqueue('ok');
		await enqueue('fail');
		await enqueue('flaky', { retry: { limit: 2, delaySeconds: 3600, maxDelaySeconds: 7200 } });
		const delta = (after: Sample[], name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);
		const after = await eventually(async () => {
			const s = await scrape();
			return delta(s, 'task_engine_delivery_duration_seconds_count', { queue: 'm' }) === 5 ? s : undefined;
		}, 15_000, 'five attempts observed');
		expect(delta(after, 'task_engine_deliveries_total', { queue: 'm', outcome: 'delivered', status_class: '2xx' })).toBe(3);
		expect(delta(after, 'task_engine_deliveries_total', { queue: 'm', outcome: 'failed', status_class: '4xx' })).toBe(1);
		expect(delta(after, 'task_engine_deliveries_total', { queue: 'm', outcome: 'retry', status_class: '5xx' })).toBe(1);
		expect(delta(after, 'task_engine_deliveries_total', { queue: 'm' })).toBe(5);
		expect(delta(after, 'task_engine_retries_total', { queue: 'm' })).toBe(1);
		expect(delta(after, 'task_engine_dead_lettered_total', { queue: 'm' })).toBe(1);
		expect(delta(after, 'task_engine_delivery_lateness_seconds_count', { queue: 'm' })).toBe(5);
		expect(delta(after, 'task_engine_delivery_lateness_seconds_bucket', { queue: 'm', le: '+Inf' })).toBe(5);
		expect(total(after, 'task_engine_delivery_lateness_seconds_sum', { queue: 'm' })).toBeLessThan(5 * 5);
	});

	it('reads queue depths from the database on every scrape', async () => {
		for (let i = 0; i < 2; i++) await te.api('POST', '/v1/tasks', { queue: 'm', name: 'later', delaySeconds: 3600 });
		const s = await scrape();
		expect(total(s, 'task_engine_queue_tasks', { queue: 'm', state: 'scheduled' })).toBe(2);
		expect(total(s, 'task_engine_queue_tasks', { queue: 'm', state: 'retrying' })).toBe(1);
		expect(total(s, 'task_engine_queue_tasks', { queue: 'm', state: 'queued' })).toBe(0);
		expect(total(s, 'task_engine_dead_letters', { queue: 'm' })).toBe(1);
		expect(total(s, 'task_engine_stuck_tasks', { queue: 'm' })).toBe(0);
		// The other engine (another schema) sees its own, empty database.
		expect((await scrape(open)).filter((x) => x.name === 'task_engine_queue_tasks')).toEqual([]);
	});

	it('counts HTTP requests by method, route pattern and status', async () => {
		const id = (await te.api('POST', '/v1/tasks', { queue: 'm', name: 'later', delaySeconds: 3600 })).body.id;
		const before = await scrape();
		for (let i = 0; i < 4; i++) expect((await te.api('GET', `/v1/tasks/${id}`)).status).toBe(200);
		await te.api('GET', '/v1/no/such/route');
		await te.api('GET', '/v1/health/queues', undefined, { auth: false });
		const after = await scrape();
		const delta = (labels: Record<string, string>) => total(after, 'task_engine_http_requests_total', labels) - total(before, 'task_engine_http_requests_total', labels);
		expect(delta({ method: 'GET', route: '/v1/tasks/:id', status: '200' })).toBe(4);
		expect(delta({ route: 'unmatched', status: '404' })).toBe(1);
		expect(delta({ route: '/v1/health/queues', status: '401' })).toBe(1);
		expect(after.some((s) => s.labels.route?.includes(id))).toBe(false);
		expect(total(after, 'task_engine_http_request_duration_seconds_count', { method: 'GET', route: '/v1/tasks/:id' })).toBeGreaterThanOrEqual(4);
	});

	it('counts retention purges', async () => {
		const eightDaysOn = new Date(Date.now() + 8 * 86400_000);
		const purged = await te.engine.retention.runOnce(eightDaysOn);
		expect(purged).toEqual({ completed: 3, cancelled: 0, failed: 0, batches: 0 });
		const s = await scrape();
		expect(total(s, 'task_engine_retention_purged_total', { state: 'completed' })).toBe(3);
		expect(total(s, 'task_engine_retention_purged_total', { state: 'failed' })).toBe(0);
	});

	it('counts schedule fires, batch chunks and finished batches as they happen', async () => {
		const receiver = await startReceiver(() => ({}));
		try {
			await te.api('POST', '/v1/queues', { name: 'origins' });
			await te.api('POST', '/v1/queues/origins/handlers', { url: receiver.url });
			const batch = await te.api('POST', '/v1/batches', { queue: 'origins', name: 'b', items: [1, 2, 3, 4, 5], chunkSize: 2 });
			expect(batch.status).toBe(202);
			await eventually(async () => (await te.api('GET', `/v1/batches/${batch.body.id}`)).body.state === 'completed', 20_000, 'batch done');
			const schedule = await te.api('POST', '/v1/schedules', { name: 'tick', queue: 'origins', everySeconds: 1 });
			expect(schedule.status).toBe(201);
			await eventually(async () => total(await scrape(), 'task_engine_schedule_fires_total', { queue: 'origins' }) >= 2, 20_000, 'two fires');
			await te.api('DELETE', `/v1/schedules/${schedule.body.id}`);
			const s = await scrape();
			expect(total(s, 'task_engine_batch_chunks_total', { queue: 'origins', state: 'completed' })).toBe(3);
			expect(total(s, 'task_engine_batch_items_total', { queue: 'origins', state: 'completed' })).toBe(5);
			expect(total(s, 'task_engine_batches_finished_total', { queue: 'origins', state: 'completed' })).toBe(1);
			// Nothing leaked into the other engine's registry.
			expect(total(await scrape(open), 'task_engine_schedule_fires_total')).toBe(0);
		} finally {
			await receiver.close();
		}
	});
});
