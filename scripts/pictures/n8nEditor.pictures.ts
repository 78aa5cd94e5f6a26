import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { INodeTypeDescription, TriggerPanelDefinition } from 'n8n-workflow';
import { launchChromium } from '../../test/browser/chromium.js';
import { eventually, startHarness, type Harness } from '../../test/e2e/harness.js';
import { EXAMPLE_CREDENTIAL_NAME, readExample, type WorkflowJson } from '../../test/e2e/scenarioHelpers.js';
import { openEditor, WAIT, type Editor } from './editor.js';

/**
 * `npm run pictures` (issue 16): the nodes as an n8n user meets them, photographed in a real n8n
 * 2.41.1 editor in Chromium, with the engine behind them — each node's panel, the canvas of every
 * example workflow, and the output of a step run in the editor — into docs/images/nodes/ (the
 * README's "Use it from n8n" shows them). The same run checks what the pictures show and fails
 * when it regresses: the Task Trigger's canvas subtitle names its queue, its panel, canvas and
 * publish dialog speak of tasks (not n8n's generic event words) and hide the webhook URLs, and
 * neither a stopped test nor a test event leaves a test handler in the engine. One n8n, one engine
 * and one editor page for all steps, in order (n8n takes 10-60 s to start).
 */

const repoDir = path.resolve(import.meta.dirname, '..', '..');
const SHOTS = path.resolve(repoDir, process.env.PICTURES_DIR ?? 'docs/images/nodes');
const examplesDir = path.join(repoDir, 'examples');
const TRIGGER_TYPE = 'n8n-nodes-background-tasks.taskTrigger';

/** The Task Trigger as n8n loads it (the build under test), for the texts it must show. */
const triggerDescription: INodeTypeDescription = (() => {
	const { TaskTrigger } = createRequire(import.meta.url)(path.join(repoDir, 'dist', 'nodes', 'TaskTrigger', 'TaskTrigger.node.js'));
	return new TaskTrigger().description;
})();
const triggerPanel = triggerDescription.triggerPanel as TriggerPanelDefinition;

/** n8n's generic trigger words, which the Task Trigger replaces wherever n8n lets a node say its own. */
const GENERIC_WORDS = /pull in events from|make an event happen|listen for events from|create an event|waiting for you to create/i;
/**
 * The one generic line n8n 2.41.1 does not let a node replace: while its panel listens for a test
 * event it shows `ndv.trigger.webhookBasedNode.serviceHint` (only n8n's own Chat and Form triggers
 * get other words). Reported, not failed.
 */
const FIXED_LISTENING_HINT = /Go to Task(?: Trigger)? and create an event/;

/** Node panels to photograph: picture name → example file and node name. */
const PANELS: Array<{ picture: string; example: string; node: string }> = [
	{ picture: 'panel-enqueue-task', example: '1-order-enqueue-email.json', node: 'Enqueue email' },
	{ picture: 'panel-schedule-task', example: '3-create-report-schedule.json', node: 'Every 3 seconds' },
	{ picture: 'panel-batch-process', example: '4-import-contacts-batch.json', node: 'Batch of 500' },
	{ picture: 'panel-queue-health', example: '2-queue-health-report.json', node: 'Invoices health' },
	// The Task Trigger's panel is photographed by its texts' check, with n8n's help section open.
];

/** The text a user reads of an HTML help text (n8n renders it as HTML). */
const readable = (html: string) => html.replace(/<br \/>/g, ' ').replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();

/** Manual Trigger → Set "Order" → Enqueue Task: a step a user runs in the editor to see its output. */
function enqueueDemo(): WorkflowJson {
	const credentials = { backgroundTasksApi: { id: null, name: EXAMPLE_CREDENTIAL_NAME } };
	const field = (name: string, value: string) => ({ id: randomUUID(), name, value, type: 'string' });
	return {
		name: 'Enqueue a confirmation email (run in the editor)',
		nodes: [
			{ id: randomUUID(), name: 'Run', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: randomUUID(),
				name: 'Order',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: [220, 0],
				parameters: { assignments: { assignments: [field('orderId', 'A-1001'), field('email', 'buyer@example.test')] }, options: {} },
			},
			{
				id: randomUUID(),
				name: 'Enqueue email',
				type: 'n8n-nodes-background-tasks.enqueueTask',
				typeVersion: 1.1,
				position: [440, 0],
				credentials,
				parameters: {
					queue: { __rl: true, mode: 'name', value: 'emails' },
					taskName: 'send-confirmation',
					payloadSource: 'defineBelow',
					payload: '={{ $json }}',
					options: { idempotencyKey: '={{ $json.orderId }}' },
				},
			},
		],
		connections: {
			Run: { main: [[{ node: 'Order', type: 'main', index: 0 }]] },
			Order: { main: [[{ node: 'Enqueue email', type: 'main', index: 0 }]] },
		},
	};
}

interface Handler {
	id: string;
	url: string;
	mode: string;
}

describe('pictures of the nodes in the n8n editor', () => {
	let h: Harness;
	let browser: Browser;
	let editor: Editor;
	/** example file → its workflow's id and JSON in this n8n */
	const workflows = new Map<string, { id: string; json: WorkflowJson }>();
	const notes: string[] = [];
	const started = Date.now();

	const handlersOf = async (queue: string): Promise<Handler[]> => {
		const res = await h.engineApi('GET', `/v1/queues/${queue}/handlers`);
		return res.status === 404 ? [] : res.body.items;
	};
	const open = async (example: string) => {
		const workflow = workflows.get(example)!;
		await editor.openWorkflow(workflow.id, workflow.json.nodes.length);
	};

	beforeAll(async () => {
		h = await startHarness();
		await h.engineCredential(EXAMPLE_CREDENTIAL_NAME);
		// The queues the examples use, so the panels' queue lists are not empty.
		for (const name of ['emails', 'invoices', 'reports', 'contacts']) await h.engineApi('POST', '/v1/queues', { name });
		const files = (await readdir(examplesDir)).filter((file) => file.endsWith('.json')).sort();
		for (const file of files) {
			const json = await readExample(file);
			workflows.set(file, { id: await h.createWorkflow(json), json });
		}
		const demo = enqueueDemo();
		workflows.set('enqueue-demo', { id: await h.createWorkflow(demo), json: demo });
		browser = await launchChromium();
		editor = await h.time('sign in to the editor', () => openEditor(browser, { n8nUrl: h.n8nUrl, shotsDir: SHOTS }));
	});

	afterAll(async () => {
		await browser?.close();
		h?.printTimings();
		const pictures = await readdir(SHOTS).catch(() => []);
		const sizes = await Promise.all(pictures.map(async (file) => (await stat(path.join(SHOTS, file))).size));
		const kib = Math.round(sizes.reduce((a, b) => a + b, 0) / 1024);
		notes.push(`${pictures.length} pictures in ${path.relative(repoDir, SHOTS)}, ${kib} KiB; run took ${Math.round((Date.now() - started) / 1000)} s`);
		console.log(`pictures:\n${notes.map((line) => `  ${line}`).join('\n')}`);
		await h?.stop();
	});

	it('photographs the canvas of every example workflow; each Task Trigger names its queue', async () => {
		for (const [file, { json }] of workflows) {
			if (file === 'enqueue-demo') continue;
			await h.time(`canvas ${file}`, async () => {
				await open(file);
				await editor.shot(`canvas-${path.basename(file, '.json')}`);
			});
			// The subtitle (issue 16, item 1): n8n resolves the queue locator before the subtitle
			// expression sees it, so `.value` there read "queue: undefined".
			for (const node of json.nodes.filter((n) => n.type === TRIGGER_TYPE)) {
				const text = await editor.canvasNode(node.name).innerText();
				expect(text, `${file}: canvas of "${node.name}"`).toContain(`queue: ${node.parameters.queue.value}`);
			}
			expect(await editor.page.locator('[data-test-id="canvas-node"]', { hasText: 'undefined' }).count(), `${file}: a node's canvas text says "undefined"`).toBe(0);
		}
	});

	it('photographs each node\'s panel', async () => {
		for (const panel of PANELS) {
			await h.time(`panel ${panel.node}`, async () => {
				await open(panel.example);
				await editor.openNode(panel.node);
				await editor.shot(panel.picture);
				await editor.closeNode();
			});
		}
	});

	it('the Task Trigger\'s panel speaks of tasks and hides the webhook URLs', async () => {
		await open('1-email-worker.json');
		const ndv = await editor.openNode('Task Trigger');
		const header = ndv.locator('[data-test-id="trigger-header"]');
		expect((await header.innerText()).trim()).toBe(triggerPanel.header);
		// n8n's "When will this node trigger my flow?" section holds the executions help.
		await ndv.getByText('When will this node trigger my flow?').click();
		const help = readable((triggerPanel.executionsHelp as { inactive: string }).inactive);
		await ndv.getByText(help.slice(0, 60)).waitFor();
		await editor.shot('panel-task-trigger');
		const text = (await ndv.innerText()).replace(/\s+/g, ' ');
		expect(text).toContain(help);
		expect(text).toContain(readable((triggerPanel.activationHint as { inactive: string }).inactive));
		expect(text).not.toMatch(GENERIC_WORDS);
		// ndvHideUrl: the trigger registers its URL with the engine itself; the user never calls it.
		expect(text).not.toMatch(/webhook-test\/|Webhook URLs|Test URL|Production URL/);
		await editor.closeNode();
	});

	it('stopping a test without a task leaves no test handler in the engine', async () => {
		await open('1-email-worker.json');
		const ndv = await editor.openNode('Task Trigger');
		expect(await handlersOf('emails')).toEqual([]);
		await ndv.locator('[data-test-id="trigger-execute-button"]').first().click();
		const listening = ndv.locator('[data-test-id="trigger-listening"]');
		await listening.waitFor();
		await eventually(async () => (await handlersOf('emails')).find((handler) => handler.mode === 'test'), WAIT, 'a test handler of queue emails');
		await listening.getByRole('button', { name: 'Stop Listening' }).click();
		await listening.waitFor({ state: 'hidden' });
		// Well inside the engine's own 120 s limit for a test handler: the node's delete hook removed it.
		const stopped = Date.now();
		await eventually(async () => !(await handlersOf('emails')).some((handler) => handler.mode === 'test'), 10_000, 'the test handler to be removed after Stop Listening');
		notes.push(`test handler removed ${Date.now() - stopped} ms after Stop Listening`);
		await editor.closeNode();
	});

	it('a test event runs once in the editor and leaves no test handler in the engine', async () => {
		await open('1-email-worker.json');
		const ndv = await editor.openNode('Task Trigger');
		expect(await handlersOf('emails'), 'handlers of queue emails before the test event (one left by the last step?)').toEqual([]);
		await ndv.locator('[data-test-id="trigger-execute-button"]').first().click();

		// Listening: the editor registered the test URL as a test handler of the queue.
		const listening = ndv.locator('[data-test-id="trigger-listening"]');
		await listening.waitFor();
		const testHandler = await eventually(async () => (await handlersOf('emails')).find((handler) => handler.mode === 'test'), WAIT, 'a test handler of queue emails');
		const listeningText = await listening.innerText();
		if (FIXED_LISTENING_HINT.test(listeningText)) notes.push(`known limit (n8n 2.41.1): the listening panel says "${listeningText.match(FIXED_LISTENING_HINT)![0]}"`);
		expect(listeningText.replace(FIXED_LISTENING_HINT, '')).not.toMatch(GENERIC_WORDS);
		// Behind the panel, the canvas says what the trigger waits for, in our words.
		const waiting = await editor.canvasNode('Task Trigger').innerText();
		expect(waiting).toContain(triggerDescription.eventTriggerDescription);
		expect(waiting).not.toMatch(GENERIC_WORDS);
		await editor.shot('task-trigger-listening');

		const task = await h.engineApi('POST', '/v1/tasks', { queue: 'emails', name: 'send-confirmation', payload: { orderId: 'A-1001', email: 'buyer@example.test' } });
		expect(task.status).toBe(201);
		// The editor shows the delivered task as the trigger's output.
		await editor.outputAsJson(ndv);
		await ndv.getByText('"send-confirmation"').first().waitFor();
		await editor.shot('output-task-trigger');
		const delivered = await eventually(async () => {
			const { body } = await h.engineApi('GET', `/v1/tasks/${task.body.id}`);
			return ['completed', 'failed'].includes(body.state) ? body : undefined;
		}, WAIT, `task ${task.body.id} to be settled`);
		expect(delivered.state).toBe('completed');

		// The test is over: neither n8n's delete hook nor the engine's one-task rule leaves it behind.
		const gone = Date.now();
		await eventually(async () => !(await handlersOf('emails')).some((handler) => handler.mode === 'test'), WAIT, `test handler ${testHandler.id} to be removed`);
		notes.push(`test handler removed ${Date.now() - gone} ms after the test task was settled`);
		await editor.closeNode();
	});

	it('photographs a step\'s output: Enqueue Task run in the editor', async () => {
		await open('enqueue-demo');
		const ndv = await editor.openNode('Enqueue email');
		await ndv.locator('[data-test-id="node-execute-button"]').first().click();
		await editor.outputAsJson(ndv);
		await ndv.getByText('"send-confirmation"').first().waitFor();
		// The priority class by name (issue 16, item 4), not the engine's integer.
		await ndv.getByText('"normal"').first().waitFor();
		await editor.shot('output-enqueue-task');
		await editor.closeNode();
	});

	it('publishing the worker says what the trigger does, in its own words', async () => {
		await open('1-email-worker.json');
		const page = editor.page;
		await page.getByRole('button', { name: 'Publish', exact: true }).first().click();
		const publish = page.getByRole('dialog').filter({ hasText: 'Publish workflow' });
		await publish.getByRole('button', { name: 'Publish', exact: true }).click();
		const published = page.getByRole('dialog').filter({ hasText: 'Workflow published' });
		await published.waitFor();
		const text = (await published.innerText()).replace(/\s+/g, ' ');
		expect(text).toContain(triggerDescription.activationMessage);
		expect(text).not.toMatch(GENERIC_WORDS);
		await editor.shot('publish-task-trigger');
		await published.getByRole('button', { name: 'Got it' }).click();
		// Published: the trigger is now the queue's production handler.
		await eventually(async () => (await handlersOf('emails')).find((handler) => handler.mode === 'production'), WAIT, 'a production handler of queue emails');
	});
});
