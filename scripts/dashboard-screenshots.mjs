// The README's dashboard pictures, from a running engine with a few minutes of demo traffic.
//
//   npm start                                   # another terminal; prints the key
//   node scripts/dashboard-screenshots.mjs      # about MINUTES + 1 minutes
//
// It creates demo queues (emails, reports, crm-sync, exports) with handlers on a loopback receiver
// of its own, enqueues a steady stream of tasks for MINUTES (some slow, some retried, some dead
// letters), schedules and batches, then opens the dashboard in Debian's Chromium and saves each view
// to docs/images/. Run it against a fresh engine: it adds to whatever the engine holds.
// Settings (environment): ENGINE_URL (http://127.0.0.1:5690), API_KEY (else DATA_DIR/api-key, DATA_DIR
// defaulting to ./.task-engine), MINUTES (5), SHOTS (docs/images), CHROMIUM_PATH (/usr/bin/chromium).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const env = process.env;
const ENGINE = env.ENGINE_URL ?? 'http://127.0.0.1:5690';
const KEY = env.API_KEY ?? readFileSync(path.join(env.DATA_DIR ?? '.task-engine', 'api-key'), 'utf8').trim();
const MINUTES = Number(env.MINUTES ?? 5);
const SHOTS = path.resolve(root, env.SHOTS ?? 'docs/images');

async function api(method, url, body) {
	const res = await fetch(`${ENGINE}${url}`, {
		method,
		headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const json = res.status === 204 ? null : await res.json();
	if (!res.ok && res.status !== 409) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
	return json;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (p) => Math.random() < p;

// The handlers: each queue behaves like a kind of work.
const receiver = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', async () => {
		const task = JSON.parse(Buffer.concat(chunks).toString('utf8'));
		const queue = req.url.split('/').at(-1);
		const answer = (status, body) => {
			res.writeHead(status, { 'content-type': 'application/json' });
			res.end(JSON.stringify(body));
		};
		if (queue === 'emails') {
			await sleep(20 + Math.random() * 80);
			return answer(200, { sent: true, to: task.payload.to, messageId: `msg_${task.id.slice(0, 8)}` });
		}
		if (queue === 'reports') {
			await sleep(300 + Math.random() * 1200);
			if (pick(0.05)) return answer(503, { error: 'renderer busy' });
			return answer(200, { pages: 3 + Math.floor(Math.random() * 20), url: `https://files.example.test/${task.id}.pdf` });
		}
		if (queue === 'crm-sync') {
			await sleep(50 + Math.random() * 300);
			if (task.payload.contactId % 17 === 0) return answer(422, { error: 'contact has no email address' });
			if (task.attempt === 1 && pick(0.3)) return answer(429, { error: 'rate limited' });
			return answer(200, { synced: true, contactId: task.payload.contactId });
		}
		if (task.batch) {
			await sleep(400 + Math.random() * 400);
			if (task.batch.chunkIndex % 23 === 7) return answer(500, { error: 'chunk rejected by the warehouse' });
			return answer(200, { rows: task.payload.items.length });
		}
		return answer(200, { ok: true });
	});
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const hook = `http://127.0.0.1:${receiver.address().port}/hook`;

const retry = { limit: 2, delaySeconds: 5, backoff: 'exponential', maxDelaySeconds: 30 };
for (const [name, settings] of [
	['emails', { concurrency: 10 }],
	['reports', { concurrency: 3, timeoutSeconds: 30 }],
	['crm-sync', { concurrency: 5 }],
	['exports', { concurrency: 2 }],
]) {
	await api('POST', '/v1/queues', { name, retry, ...settings });
	await api('POST', `/v1/queues/${name}/handlers`, { url: `${hook}/${name}` });
}
await api('PUT', '/v1/schedules/by-name/nightly-digest', { queue: 'emails', cron: '30 2 * * *', timezone: 'Europe/Berlin', payload: { digest: 'daily' } });
await api('PUT', '/v1/schedules/by-name/crm-full-sync', { queue: 'crm-sync', cron: '0 */6 * * *', timezone: 'UTC', payload: { contactId: 1 } });
await api('PUT', '/v1/schedules/by-name/weekly-report', { queue: 'reports', cron: '0 8 * * 1', timezone: 'America/New_York' });
await api('PUT', '/v1/schedules/by-name/heartbeat-check', { queue: 'emails', everySeconds: 300, paused: true });

const items = (n) => Array.from({ length: n }, (_, i) => ({ sku: `SKU-${10000 + i}`, qty: 1 + (i % 7) }));
await api('POST', '/v1/batches', { queue: 'exports', name: 'catalog-export', items: items(500), chunkSize: 25, concurrency: 2 });

console.log(`demo traffic for ${MINUTES} min against ${ENGINE} …`);
let contact = 1000;
const until = Date.now() + MINUTES * 60_000;
let secondBatch = false;
while (Date.now() < until) {
	const tasks = [];
	for (let i = 0; i < 2 + Math.floor(Math.random() * 4); i += 1) tasks.push({ queue: 'emails', name: 'send-receipt', payload: { to: `customer${contact + i}@example.test`, order: `A-${contact + i}` } });
	if (pick(0.5)) tasks.push({ queue: 'reports', name: 'render-invoice', payload: { invoice: `INV-${contact}` } });
	for (let i = 0; i < 1 + Math.floor(Math.random() * 2); i += 1) tasks.push({ queue: 'crm-sync', name: 'upsert-contact', payload: { contactId: (contact += 1) } });
	await api('POST', '/v1/tasks/bulk', { tasks });
	if (!secondBatch && Date.now() > until - 60_000) {
		secondBatch = true;
		await api('POST', '/v1/batches', { queue: 'exports', name: 'price-update', items: items(2000), chunkSize: 20, concurrency: 1 });
	}
	await sleep(1000);
}

const browser = await chromium.launch({
	executablePath: env.CHROMIUM_PATH ?? '/usr/bin/chromium',
	headless: true,
	chromiumSandbox: false,
	args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
	for (const scheme of ['light', 'dark']) {
		const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
		const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
		await page.goto(`${ENGINE}/ui/`);
		await page.getByLabel('API key').fill(KEY);
		await page.keyboard.press('Enter');
		await page.waitForFunction(() => document.querySelectorAll('tr[data-queue] svg.chart').length >= 3);
		if (scheme === 'dark') {
			await shot('dashboard-queues-dark');
			break;
		}
		await shot('dashboard-queues');
		const sections = page.getByRole('navigation', { name: 'Sections' });

		await page.getByRole('link', { name: 'crm-sync', exact: true }).click();
		await page.locator('tr[data-task]').first().waitFor();
		await shot('dashboard-queue');
		// A task that was retried, then delivered: two attempts on its timeline.
		const retried = (await api('GET', '/v1/tasks?queue=crm-sync&state=completed&limit=200')).items.find((t) => t.attemptCount > 1);
		if (retried) {
			await page.getByLabel('Find a task').fill(retried.id);
			await page.getByLabel('Find a task').press('Enter');
			await page.locator('li[data-attempt="2"]').waitFor();
			await shot('dashboard-task');
		}
		await sections.getByRole('link', { name: 'Dead letters' }).click();
		await page.locator('article.dead-letter').first().waitFor();
		await shot('dashboard-dead-letters');
		await sections.getByRole('link', { name: 'Schedules' }).click();
		await page.locator('tr[data-schedule="nightly-digest"] summary').click();
		await page.locator('.fire-times li').nth(4).waitFor();
		await shot('dashboard-schedules');
		await sections.getByRole('link', { name: 'Batches' }).click();
		await page.locator('article[data-batch]').nth(1).waitFor();
		await shot('dashboard-batches');
		await page.close();
	}
	console.log(`screenshots in ${SHOTS}`);
} finally {
	await browser.close();
	receiver.close();
}
