import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { OWNER } from '../../test/e2e/n8nApi.js';

/**
 * The n8n 2.41 editor as a user meets it, for pictures: sign in, open a workflow, open a node's
 * panel, run a step. Selectors are n8n's own `data-test-id`s (its end-to-end tests use them too).
 */

export const VIEWPORT = { width: 1280, height: 800 };
/** Long enough for a loaded two-core machine; nothing here waits for a fixed time. */
export const WAIT = 30_000;

export interface Editor {
	readonly page: Page;
	/** Opens a workflow of this n8n and waits until its canvas shows every node. */
	openWorkflow(id: string, nodeCount: number): Promise<void>;
	/** A node on the canvas, by its name. */
	canvasNode(name: string): Locator;
	/** Opens a node's panel (NDV) by double-clicking it on the canvas. */
	openNode(name: string): Promise<Locator>;
	/** Shows the open panel's output as JSON (n8n's Table squeezes a task's fields into narrow columns). */
	outputAsJson(ndv: Locator): Promise<void>;
	/** Closes the open node panel. */
	closeNode(): Promise<void>;
	/** Saves the page as `<name>.png` in the pictures folder (n8n's passing toasts hidden). */
	shot(name: string): Promise<string>;
}

export async function openEditor(browser: Browser, options: { n8nUrl: string; shotsDir: string }): Promise<Editor> {
	await mkdir(options.shotsDir, { recursive: true });
	const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
	const page = await context.newPage();
	page.setDefaultTimeout(WAIT);

	await page.goto(`${options.n8nUrl}/signin`);
	await page.locator('input[name="emailOrLdapLoginId"]').fill(OWNER.email);
	await page.locator('input[name="password"]').fill(OWNER.password);
	await page.locator('input[name="password"]').press('Enter');
	await page.waitForURL((url) => !url.pathname.startsWith('/signin'));

	const canvasNode = (name: string) => page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`);
	const ndv = page.locator('[data-test-id="ndv"]');

	return {
		page,
		canvasNode,
		async openWorkflow(id, nodeCount) {
			await page.goto(`${options.n8nUrl}/workflow/${id}`);
			await page.locator('[data-test-id="canvas-node"]').nth(nodeCount - 1).waitFor();
			// n8n fits the view once the nodes are laid out; wait until two frames agree on where they are.
			await page.waitForFunction(() => {
				const first = document.querySelector('[data-test-id="canvas-node"]')?.getBoundingClientRect();
				const key = first ? `${Math.round(first.x)},${Math.round(first.y)},${Math.round(first.width)}` : '';
				const w = window as unknown as { __picturesLastBox?: string };
				const stable = key !== '' && w.__picturesLastBox === key;
				w.__picturesLastBox = key;
				return stable;
			}, undefined, { polling: 250 });
		},
		async openNode(name) {
			await canvasNode(name).dblclick();
			await ndv.waitFor();
			await ndv.locator('[data-test-id="node-parameters"]').waitFor();
			return ndv;
		},
		async outputAsJson(ndv) {
			const output = ndv.locator('[data-test-id="output-panel"]');
			await output.locator('[data-test-id="run-data-item-count"]').waitFor();
			await output.locator('[data-test-id="ndv-run-data-display-mode"]').getByText('JSON', { exact: true }).click();
		},
		async closeNode() {
			await page.keyboard.press('Escape');
			await ndv.waitFor({ state: 'hidden' });
		},
		async shot(name) {
			const file = path.join(options.shotsDir, `${name}.png`);
			// n8n's passing toasts and its one-off hints ("You can pin this output …") are not the node.
			const hide = (visibility: string) =>
				page.evaluate((value) => document.querySelectorAll<HTMLElement>('.el-notification, .el-popper, [data-reka-popper-content-wrapper]').forEach((el) => (el.style.visibility = value)), visibility);
			await page.mouse.move(0, VIEWPORT.height - 1);
			await hide('hidden');
			await page.screenshot({ path: file });
			await hide('');
			return file;
		},
	};
}
