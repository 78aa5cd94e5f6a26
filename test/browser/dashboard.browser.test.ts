import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';
import { launchChromium } from './chromium.js';

/**
 * The dashboard as a person uses it: a real Chromium against a real engine on the test database,
 * handlers on loopback. The admin page is loaded once; every later view is reached by clicking, and
 * every change it shows arrives through the event stream — the test checks that the page never
 * loaded again.
 *
 * Each view is also photographed (into the temp folder; scripts/dashboard-screenshots.mjs makes the
 * README's pictures), and the page on screen is photographed when a test fails.
 */
const ADMIN = 'admin-key-browser-test-000001';
const READ = 'read-key-browser-test-0000001';
const SHOTS = path.join(os.tmpdir(), 'background-tasks-dashboard-shots');
const WAIT = 15_000;

describe('dashboard in Chromium', () => {
	let te: TestEngine;
	let base: string;
	let browser: Browser;
	let admin: { context: BrowserContext; page: Page };
	let adminLoads = 0;
	const pageErrors: string[] = [];
	const receiver = { broken: true, gates: new Map<string, () => void>() };
	let hook: Awaited<ReturnType<typeof startReceiver>>;

	/** Waits until the handler holds task `id`, then lets it answer 200. */
	const release = async (id: string) => (await eventually(() => receiver.gates.get(id), WAIT, `the handler to hold ${id}`))();

	const api = async (method: string, url: string, body?: unknown) => {
		const res = await te.api(method, url, body, { auth: ADMIN });
		expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
		return res.body;
	};
	const enqueue = (queue: string, name: string, payload: unknown = {}) => api('POST', '/v1/tasks', { queue, name, payload, retry: { limit: 0 } });
	const queueWithHandler = async (name: string) => {
		await api('POST', '/v1/queues', { name });
		await api('POST', `/v1/queues/${name}/handlers`, { url: `${hook.url}/${name}` });
	};

	async function openPage(options: { dark?: boolean } = {}) {
		const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: options.dark ? 'dark' : 'light' });
		const page = await context.newPage();
		page.on('pageerror', (error) => pageErrors.push(error.message));
		page.on('console', (message) => {
			// A refused request (the wrong key on purpose) is logged by the browser itself; script errors are not that.
			if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(message.text());
		});
		return { context, page };
	}

	async function signIn(page: Page, key: string) {
		await page.goto(`${base}/ui/`);
		await page.getByLabel('API key').fill(key);
		await page.keyboard.press('Enter');
		await page.getByRole('heading', { name: 'Queues', level: 1 }).waitFor({ timeout: WAIT });
	}

	/** A picture of the page without the passing announcements in its corner. */
	const shot = async (page: Page, name: string) => {
		await page.evaluate(() => document.querySelector<HTMLElement>('.toasts')?.style.setProperty('visibility', 'hidden'));
		await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
		await page.evaluate(() => document.querySelector<HTMLElement>('.toasts')?.style.removeProperty('visibility'));
	};
	const cell = (page: Page, queue: string, count: string) => page.locator(`tr[data-queue="${queue}"] td[data-count="${count}"]`);
	const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name }).click();

	beforeAll(async () => {
		mkdirSync(SHOTS, { recursive: true });
		te = await startTestEngine({ API_KEYS: `${ADMIN},${READ}:read` }, { eventStream: { statsIntervalMs: 500, batchIntervalMs: 250 } });
		await te.engine.server.listen({ host: '127.0.0.1', port: 0 });
		base = `http://127.0.0.1:${(te.engine.server.server.address() as AddressInfo).port}`;
		hook = await startReceiver(async (req) => {
			const queue = req.path.split('/').at(-1);
			if (queue === 'slow') await new Promise<void>((resolve) => receiver.gates.set(req.json.id, resolve));
			if (queue === 'broken' && receiver.broken) return { status: 422, body: { error: 'address rejected by the mail provider' } };
			return { status: 200, body: { ok: true, to: req.json.payload?.to ?? null } };
		});
		for (const name of ['emails', 'slow', 'broken', 'backlog']) await queueWithHandler(name);
		await api('POST', '/v1/queues/backlog/pause');
		browser = await launchChromium();
		admin = await openPage();
		admin.page.on('load', () => (adminLoads += 1));
	});

	// What the admin page showed when a test failed, to see why.
	afterEach(async (context) => {
		if (context.task.result?.state === 'fail') await admin?.page.screenshot({ path: path.join(SHOTS, `failed-${context.task.name.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => undefined);
	});

	afterAll(async () => {
		for (const gate of receiver.gates.values()) gate();
		await browser?.close();
		await te?.stop();
		await hook?.close();
	});

	it('logs in with a key (a wrong one is refused, in words)', async () => {
		const { page } = admin;
		await page.goto(`${base}/ui/`);
		const key = page.getByLabel('API key');
		await key.fill('not-a-key-of-this-engine-00');
		await page.getByRole('button', { name: 'Open the dashboard' }).click();
		await page.getByRole('alert').filter({ hasText: 'does not accept this key' }).waitFor({ timeout: WAIT });
		// By keyboard: the field has the focus back, Enter submits.
		await key.fill(ADMIN);
		await key.press('Enter');
		await page.getByRole('heading', { name: 'Queues', level: 1 }).waitFor({ timeout: WAIT });
		expect(await page.locator('.scope').textContent()).toBe('admin key');
		expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
	});

	it('shows a queue and its counts, and moves them live', async () => {
		const { page } = admin;
		for (let i = 0; i < 3; i += 1) await enqueue('backlog', 'import-row', { row: i });
		await cell(page, 'backlog', 'queued').filter({ hasText: /^3$/ }).waitFor({ timeout: WAIT });
		expect(await page.locator('tr[data-queue="backlog"] .badge.paused').count()).toBe(1);
		// Two more while the page is open: the count follows through queue.stats, no reload.
		await enqueue('backlog', 'import-row', { row: 3 });
		await enqueue('backlog', 'import-row', { row: 4 });
		await cell(page, 'backlog', 'queued').filter({ hasText: /^5$/ }).waitFor({ timeout: WAIT });
	});

	it('opens a task and its attempts', async () => {
		const { page } = admin;
		const task = await enqueue('emails', 'send-welcome', { to: 'ada@example.test', template: 'welcome' });
		await eventually(async () => (await api('GET', `/v1/tasks/${task.id}`)).state === 'completed', WAIT, 'the email task to complete');
		await cell(page, 'emails', 'completed').filter({ hasText: /^[1-9]/ }).waitFor({ timeout: WAIT });
		await page.getByRole('link', { name: 'emails', exact: true }).click();
		await page.getByRole('heading', { name: 'Queue emails' }).waitFor({ timeout: WAIT });
		await page.getByRole('link', { name: `Task ${task.id}` }).click();
		await page.getByRole('heading', { name: /Task send-welcome/ }).waitFor({ timeout: WAIT });
		expect(await page.locator('h1 .badge').textContent()).toBe('completed');
		const attempt = page.locator('li[data-attempt="1"]');
		expect(await attempt.textContent()).toContain('HTTP 200');
		expect(await page.getByRole('region', { name: 'Payload' }).locator('pre').textContent()).toContain('"to": "ada@example.test"');
		expect(await page.getByRole('region', { name: 'Result' }).locator('pre').textContent()).toContain('"ok": true');
		await shot(page, 'dashboard-task');
	});

	it('watches tasks go from active to completed without reloading', async () => {
		const { page } = admin;
		await nav(page, 'Queues');
		await page.getByRole('link', { name: 'slow', exact: true }).click();
		await page.getByText('No tasks in slow.').waitFor({ timeout: WAIT });

		// A task that arrives while the list is open is announced, then shown on request.
		const first = await enqueue('slow', 'render-report', { report: 'q3' });
		await page.getByRole('button', { name: '1 new task — show' }).click();
		const row = page.locator(`tr[data-task="${first.id}"]`);
		await page.locator(`tr[data-task="${first.id}"][data-state="active"]`).waitFor({ timeout: WAIT });
		await release(first.id);
		await page.locator(`tr[data-task="${first.id}"][data-state="completed"]`).waitFor({ timeout: WAIT });
		expect(await row.locator('.badge').textContent()).toBe('completed');

		// The same on a task's own page: its state and its attempt appear when the handler answers.
		const second = await enqueue('slow', 'render-report', { report: 'q4' });
		await page.getByRole('button', { name: '1 new task — show' }).click();
		await page.getByRole('link', { name: `Task ${second.id}` }).click();
		await page.locator('h1 .badge', { hasText: 'active' }).waitFor({ timeout: WAIT });
		await release(second.id);
		await page.locator('h1 .badge', { hasText: 'completed' }).waitFor({ timeout: WAIT });
		await page.locator('li[data-attempt="1"]', { hasText: 'HTTP 200' }).waitFor({ timeout: WAIT });
		expect(adminLoads, 'page loads since sign-in').toBe(1);
	});

	it('misses no change made between a page loading its data and its stream opening', async () => {
		const { page } = admin;
		await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'slow', exact: true }).click();
		await page.getByRole('heading', { name: 'Queue slow' }).waitFor({ timeout: WAIT });
		await page.locator('tr[data-task]').first().waitFor({ timeout: WAIT });
		const task = await enqueue('slow', 'render-report', { report: 'q5' });
		await page.getByRole('button', { name: '1 new task — show' }).click();
		await page.locator(`tr[data-task="${task.id}"][data-state="active"]`).waitFor({ timeout: WAIT });

		// The task page loads the task, then opens a stream for its queue: that stream is held back
		// here until the task has completed, so the completion happens before the stream exists.
		let open!: () => void;
		const held = new Promise<void>((resolve) => (open = resolve));
		await page.route('**/v1/events?**', async (route) => {
			await held;
			await route.continue();
		});
		try {
			await page.getByRole('link', { name: `Task ${task.id}` }).click();
			await page.locator('h1 .badge', { hasText: 'active' }).waitFor({ timeout: WAIT });
			await release(task.id);
			await eventually(async () => (await api('GET', `/v1/tasks/${task.id}`)).state === 'completed', WAIT, 'the task to complete');
			expect(await page.locator('h1 .badge').textContent()).toBe('active');
		} finally {
			open();
		}
		// The new stream resumes from the position of the one it replaced, and replays the completion.
		await page.locator('h1 .badge', { hasText: 'completed' }).waitFor({ timeout: WAIT });
		await page.unroute('**/v1/events?**');
		expect(adminLoads).toBe(1);
	});

	it('reconnects when the stream is cut, and misses nothing meanwhile (Last-Event-ID)', async () => {
		const { page } = admin;
		await page.goBack();
		await page.getByRole('heading', { name: 'Queue slow' }).waitFor({ timeout: WAIT });
		// The list is loaded (the previous test's tasks): a task enqueued before that load would be in it,
		// shown at once rather than announced — the announcement is what this test follows.
		await page.locator('tr[data-task]').first().waitFor({ timeout: WAIT });
		/** A task that arrives while the list is open: announced, shown on request, active, then completed. */
		const watchArrival = async (report: string, beforeShown?: () => Promise<void>) => {
			const task = await enqueue('slow', 'render-report', { report });
			await beforeShown?.();
			await page.getByRole('button', { name: '1 new task — show' }).click();
			await page.locator(`tr[data-task="${task.id}"][data-state="active"]`).waitFor({ timeout: WAIT });
			await release(task.id);
			await page.locator(`tr[data-task="${task.id}"][data-state="completed"]`).waitFor({ timeout: WAIT });
		};
		// The page now holds a position in the stream (the ids of these events).
		await watchArrival('q1');
		te.engine.liveEvents.closeAll();
		// Enqueued while the page has no stream: the page is back a second later, resumes from its last
		// event id, and is told of the task by the replay (a reset would reload the list instead, with no announcement).
		await watchArrival('q2', async () => {
			await page.locator('[data-live="reconnecting"]').waitFor({ timeout: WAIT });
			await page.locator('[data-live="live"]').waitFor({ timeout: WAIT });
		});
		expect(adminLoads).toBe(1);
	});

	it('redrives a dead letter', async () => {
		const { page } = admin;
		await nav(page, 'Dead letters');
		await page.getByText(/^No dead letters/).waitFor({ timeout: WAIT });
		// Tasks that fail while the page is open appear as one group (task.dead_lettered).
		const failing = [await enqueue('broken', 'send-invoice', { to: 'x@invalid' }), await enqueue('broken', 'send-invoice', { to: 'y@invalid' })];
		const group = page.locator('article.dead-letter').filter({ hasText: 'HTTP 422 Unprocessable Entity' });
		await group.filter({ hasText: /2\s+tasks in broken/ }).waitFor({ timeout: WAIT });
		await shot(page, 'dashboard-dead-letters');

		receiver.broken = false; // the cause is fixed
		await group.getByRole('button', { name: /^Redrive 2 broken tasks/ }).click();
		await page.getByRole('status').filter({ hasText: 'Redrove 2 tasks' }).waitFor({ timeout: WAIT });
		await page.getByText(/^No dead letters/).waitFor({ timeout: WAIT });
		for (const task of failing) {
			await eventually(async () => (await api('GET', `/v1/tasks/${task.id}`)).state === 'completed', WAIT, `redriven ${task.id} to complete`);
		}
		expect(adminLoads).toBe(1);
	});

	it('pauses and resumes a queue', async () => {
		const { page } = admin;
		await nav(page, 'Queues');
		await page.getByRole('link', { name: 'emails', exact: true }).click();
		await page.getByRole('heading', { name: 'Queue emails' }).waitFor({ timeout: WAIT });
		await page.getByRole('button', { name: 'Pause queue emails' }).click();
		await page.locator('h1 .badge.paused').waitFor({ timeout: WAIT });
		expect((await api('GET', '/v1/queues/emails')).paused).toBe(true);
		await page.getByRole('button', { name: 'Resume queue emails' }).click();
		await page.locator('h1 .badge.paused').waitFor({ state: 'detached', timeout: WAIT });
		expect((await api('GET', '/v1/queues/emails')).paused).toBe(false);
	});

	it('finds a task by id and by idempotency key', async () => {
		const { page } = admin;
		const keyed = await api('POST', '/v1/tasks', { queue: 'backlog', name: 'import-row', idempotencyKey: 'order-A-1001', payload: { row: 'A-1001' } });
		await nav(page, 'Queues');
		await page.getByRole('link', { name: 'backlog', exact: true }).click();
		const search = page.getByLabel('Find a task');
		await search.fill('order-A-1001');
		await search.press('Enter');
		await page.getByText(keyed.id, { exact: true }).first().waitFor({ timeout: WAIT });
		await page.goBack();
		await page.getByLabel('Find a task').fill(keyed.id);
		await page.getByLabel('Find a task').press('Enter');
		await page.getByRole('heading', { name: /Task import-row/ }).waitFor({ timeout: WAIT });
		await page.goBack();
		await page.getByLabel('Find a task').fill('');
		await shot(page, 'dashboard-queue');
		await page.getByLabel('Find a task').fill('no-such-key');
		await page.getByLabel('Find a task').press('Enter');
		await page.getByText('No task of backlog has the idempotency key "no-such-key".').waitFor({ timeout: WAIT });
	});

	it('shows schedules with their next runs, and runs one now', async () => {
		const { page } = admin;
		await api('POST', '/v1/schedules', { name: 'nightly-digest', queue: 'emails', cron: '30 2 * * *', timezone: 'Europe/Berlin', payload: { digest: true } });
		await api('POST', '/v1/schedules', { name: 'hourly-sync', queue: 'emails', everySeconds: 3600 });
		await nav(page, 'Schedules');
		const row = page.locator('tr[data-schedule="nightly-digest"]');
		await row.waitFor({ timeout: WAIT });
		expect(await row.textContent()).toContain('30 2 * * *');
		await row.getByText('Next 5').click();
		await row.locator('.fire-times li').nth(4).waitFor({ timeout: WAIT });
		await row.getByRole('button', { name: 'Run schedule nightly-digest now' }).click();
		await page.getByRole('status').filter({ hasText: 'Schedule nightly-digest ran' }).waitFor({ timeout: WAIT });
		await row.getByRole('button', { name: 'Pause schedule nightly-digest' }).click();
		await row.locator('.badge.paused').waitFor({ timeout: WAIT });
		await shot(page, 'dashboard-schedules');
	});

	it('shows batches with progress and ETA, live', async () => {
		const { page } = admin;
		await nav(page, 'Batches');
		await page.getByText(/^No batches/).waitFor({ timeout: WAIT });
		const items = Array.from({ length: 40 }, (_, i) => ({ email: `user${i}@example.test` }));
		const batch = await api('POST', '/v1/batches', { queue: 'emails', name: 'newsletter', items, chunkSize: 10, concurrency: 2 });
		const card = page.locator(`article[data-batch="${batch.id}"]`);
		await card.waitFor({ timeout: WAIT });
		await card.locator('.badge', { hasText: 'completed' }).waitFor({ timeout: WAIT });
		expect(await card.getByRole('progressbar').getAttribute('aria-valuetext')).toBe('4 of 4 chunks done');
		expect(await card.textContent()).toContain('40 of 40 processed');
		await shot(page, 'dashboard-batches');
		expect(adminLoads).toBe(1);
	});

	it('takes the overview in light and dark', async () => {
		const { page } = admin;
		await nav(page, 'Queues');
		await cell(page, 'emails', 'completed').waitFor({ timeout: WAIT });
		await page.locator('tr[data-queue="emails"] svg.chart').first().waitFor({ timeout: WAIT });
		await shot(page, 'dashboard-queues');
		const dark = await openPage({ dark: true });
		await signIn(dark.page, ADMIN);
		await dark.page.locator('tr[data-queue="emails"] svg.chart').first().waitFor({ timeout: WAIT });
		expect(await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe('rgb(246, 247, 249)');
		await shot(dark.page, 'dashboard-queues-dark');
		// A reload keeps the key (this tab's sessionStorage); the keyboard's first stop is the skip link, which leads to the content.
		await dark.page.reload();
		await dark.page.getByRole('heading', { name: 'Queues', level: 1 }).waitFor({ timeout: WAIT });
		await dark.page.keyboard.press('Tab');
		expect(await dark.page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
		await dark.page.keyboard.press('Enter');
		expect(await dark.page.evaluate(() => document.activeElement?.id)).toBe('main');
		await dark.context.close();
	});

	it('shows a read-only key everything and no action', async () => {
		receiver.broken = true;
		await enqueue('broken', 'send-invoice', { to: 'z@invalid' });
		const reader = await openPage();
		const { page } = reader;
		await signIn(page, READ);
		expect(await page.locator('.scope').textContent()).toBe('read-only key');
		const actions = page.getByRole('button', { name: /pause|resume|redrive|discard|retry|cancel|run now/i });

		await cell(page, 'backlog', 'queued').waitFor({ timeout: WAIT });
		expect(await actions.count()).toBe(0);
		await page.getByRole('link', { name: 'backlog', exact: true }).click();
		await page.getByRole('heading', { name: 'Queue backlog' }).waitFor({ timeout: WAIT });
		await page.locator('tr[data-task]').first().waitFor({ timeout: WAIT });
		expect(await actions.count()).toBe(0);
		await page.locator('tr[data-task] a').first().click();
		await page.getByRole('heading', { name: /Task import-row/ }).waitFor({ timeout: WAIT });
		expect(await actions.count()).toBe(0);
		await nav(page, 'Dead letters');
		await page.locator('article.dead-letter').first().waitFor({ timeout: WAIT });
		expect(await actions.count()).toBe(0);
		await nav(page, 'Schedules');
		await page.locator('tr[data-schedule]').first().waitFor({ timeout: WAIT });
		expect(await actions.count()).toBe(0);
		await nav(page, 'Batches');
		await page.locator('article[data-batch]').first().waitFor({ timeout: WAIT });
		expect(await actions.count()).toBe(0);
		await reader.context.close();
	});

	it('labels every field and reports no script error', async () => {
		const { page } = admin;
		await nav(page, 'Queues');
		await page.getByRole('link', { name: 'emails', exact: true }).click();
		await page.getByLabel('Find a task').waitFor({ timeout: WAIT });
		const unlabelled = await page.evaluate(() =>
			[...document.querySelectorAll('input, select, textarea')].filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-label')).length,
		);
		expect(unlabelled).toBe(0);
		expect(pageErrors).toEqual([]);
	});
});
