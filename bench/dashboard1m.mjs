// The dashboard at a million tasks (issue 14): opens the views in Debian's Chromium against an engine
// whose schema holds the data of bench/health1m.mjs, and times each view from the click to its rows
// on screen, and the API requests it made (as the browser saw them).
//
//   npm run build -w engine
//   KEEP=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node bench/health1m.mjs   # prints "kept schema …"
//   SCHEMA=<that schema> DATABASE_URL=… node bench/dashboard1m.mjs
//
// Settings (environment): SCHEMA (required), RUNS (3 timed passes), CHROMIUM_PATH (/usr/bin/chromium),
// ENGINE_DIST (engine/dist). The engine runs in this process without background work, so the data
// stays as generated; the event stream runs (queue.stats every 2 s over all 15 queues).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const env = process.env;
const DATABASE_URL = env.DATABASE_URL ?? env.TEST_DATABASE_URL;
if (!DATABASE_URL || !env.SCHEMA) {
	console.error('dashboard1m: set DATABASE_URL and SCHEMA (a schema kept by KEEP=1 node bench/health1m.mjs)');
	process.exit(2);
}
const RUNS = Number(env.RUNS ?? 3);
const ENGINE_DIST = path.resolve(root, env.ENGINE_DIST ?? 'engine/dist');
const API_KEY = `bench-${randomBytes(12).toString('hex')}`;

const { createEngine } = await import(pathToFileURL(path.join(ENGINE_DIST, 'app.js')).href);
const { loadConfig } = await import(pathToFileURL(path.join(ENGINE_DIST, 'config.js')).href);
const { silentLogger } = await import(pathToFileURL(path.join(ENGINE_DIST, 'log.js')).href);

const config = loadConfig({ DATABASE_URL, DATABASE_SCHEMA: env.SCHEMA, API_KEYS: API_KEY, PORT: '0', LOG_LEVEL: 'warn' });
const engine = await createEngine(config, silentLogger(), { background: false });
const address = await engine.server.listen({ host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({
	executablePath: env.CHROMIUM_PATH ?? '/usr/bin/chromium',
	headless: true,
	chromiumSandbox: false,
	args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const WAIT = 30_000;
const timings = new Map();
const requests = new Map();
const record = (map, label, ms) => map.set(label, [...(map.get(label) ?? []), ms]);

try {
	const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
	page.on('requestfinished', (request) => {
		const url = new URL(request.url());
		if (!url.pathname.startsWith('/v1/') || url.pathname === '/v1/events') return;
		const t = request.timing();
		const label = `${request.method()} ${url.pathname.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/, '{id}')}${url.search.replace(/cursor=[^&]+/, 'cursor=…')}`;
		record(requests, label, t.responseEnd - t.requestStart);
	});
	/** Runs `act`, then waits for `ready`; records the time from the act to the view on screen. */
	const timed = async (label, act, ready) => {
		const t0 = performance.now();
		await act();
		await ready();
		record(timings, label, performance.now() - t0);
	};
	const first = (selector) => () => page.locator(selector).first().waitFor({ timeout: WAIT });

	await page.goto(`${address}/ui/`);
	await page.getByLabel('API key').fill(API_KEY);
	for (let run = 0; run < RUNS; run += 1) {
		// The table comes with the health figures; each queue's chart with its own hour of history.
		const t0 = performance.now();
		if (run === 0) await page.keyboard.press('Enter');
		else await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Queues' }).click();
		await first('tr[data-queue="q14"]')();
		record(timings, `${run === 0 ? 'sign in → ' : ''}overview: 15 queues with their counts`, performance.now() - t0);
		await page.waitForFunction(() => document.querySelectorAll('tr[data-queue] svg.chart').length >= 15, null, { timeout: WAIT });
		record(timings, `${run === 0 ? 'sign in → ' : ''}overview: every hour chart drawn`, performance.now() - t0);
		await timed('q00: all tasks, first 50', () => page.getByRole('link', { name: 'q00', exact: true }).click(), first('tr[data-task]'));
		for (const state of ['queued', 'scheduled', 'retrying', 'active', 'completed', 'failed', 'cancelled']) {
			await timed(`q00: ${state}, first 50`, () => page.locator('.state-filter a', { hasText: new RegExp(`^${state}`) }).click(), async () => {
				await page.waitForFunction((s) => location.search === `?state=${s}`, state);
				await page.locator('tr[data-task], p.empty').first().waitFor({ timeout: WAIT });
				await page.waitForFunction(() => !document.querySelector('.loading'));
			});
		}
		await page.locator('.state-filter a', { hasText: /^completed/ }).click();
		await page.locator('tr[data-task]').first().waitFor({ timeout: WAIT });
		for (let p = 2; p <= 4; p += 1) {
			const before = await page.locator('tr[data-task] a').first().getAttribute('href');
			await timed('q00: completed, next page', () => page.getByRole('button', { name: 'Next →' }).click(), () =>
				page.waitForFunction((h) => document.querySelector('tr[data-task] a')?.getAttribute('href') !== h, before, { timeout: WAIT }),
			);
		}
		await timed('a task with its attempts', () => page.locator('tr[data-task] a').first().click(), first('li[data-attempt]'));
		await page.goBack();
		await page.getByLabel('Find a task').waitFor({ timeout: WAIT });
		await page.getByLabel('Find a task').fill(`no-such-key-${run}`);
		await timed('search by idempotency key (none)', () => page.getByLabel('Find a task').press('Enter'), first('#task-search-result'));
		await timed('dead letters (every queue, grouped)', () => page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Dead letters' }).click(), first('article.dead-letter'));
	}
	console.log(`\ndashboard at a million tasks (schema ${env.SCHEMA}), ${RUNS} passes, Chromium ${browser.version()}`);
	const show = (title, map) => {
		console.log(`\n${title}`);
		for (const [label, values] of map) {
			const sorted = [...values].sort((a, b) => a - b);
			console.log(`  ${label.padEnd(64)} median ${sorted[Math.floor(sorted.length / 2)].toFixed(0).padStart(5)} ms   max ${sorted.at(-1).toFixed(0).padStart(5)} ms   (n=${sorted.length})`);
		}
	};
	show('views, from the click to the rows on screen', timings);
	show('API requests the page made (browser timing, request start → response end)', requests);
} finally {
	await browser.close();
	await engine.stop();
}
