// The Task Trigger's texts in n8n's editor. Without them n8n falls back to generic words built from
// the node's name ("Pull in events from Task", "Go to Task and create an event", "Your workflow will
// now listen for events from Task") and shows webhook URLs the user never calls. The editor takes
// `eventTriggerDescription` (canvas and setup panel), `activationMessage` (publish dialog),
// `triggerPanel` (the trigger panel of the node's view) and `ndvHideUrl` (the webhook URLs).
import { describe, expect, it } from 'vitest';
import type { TriggerPanelDefinition } from 'n8n-workflow';
import { TaskTrigger } from '../../nodes/TaskTrigger/TaskTrigger.node';

const { description } = new TaskTrigger();
const panel = description.triggerPanel as TriggerPanelDefinition;
const texts = (): string[] => {
	const variants = (text: string | { active: string; inactive: string } | undefined) =>
		text === undefined ? [] : typeof text === 'string' ? [text] : [text.active, text.inactive];
	return [
		description.eventTriggerDescription ?? '',
		description.activationMessage ?? '',
		String(panel.header ?? ''),
		...variants(panel.executionsHelp),
		...variants(panel.activationHint),
	];
};

describe('Task Trigger texts', () => {
	it('sets every text n8n would otherwise fill with generic words', () => {
		expect(description.eventTriggerDescription).toBeTruthy();
		expect(description.activationMessage).toBeTruthy();
		expect(typeof panel).toBe('object');
		expect(panel.header).toBeTruthy();
		expect(panel.executionsHelp).toMatchObject({ active: expect.any(String), inactive: expect.any(String) });
		expect(panel.activationHint).toMatchObject({ active: expect.any(String), inactive: expect.any(String) });
	});

	it('says what the trigger does: waits for a task, registers as the queue\'s handler, receives tasks signed', () => {
		expect(description.eventTriggerDescription).toMatch(/task/i);
		expect(description.eventTriggerDescription).toMatch(/enqueue/i);
		expect(description.activationMessage).toMatch(/handler of its queue/);
		expect(description.activationMessage).toMatch(/signed/);
		const help = panel.executionsHelp as { active: string; inactive: string };
		for (const text of [help.active, help.inactive]) {
			expect(text).toMatch(/handler/);
			expect(text).toMatch(/signed/);
			expect(text).toMatch(/retr/);
		}
		// The test registration's rule (docs/delivery-contract.md): one task, or 120 s.
		expect(help.inactive).toMatch(/one task.*120 seconds/s);
	});

	it('uses none of n8n\'s generic event words', () => {
		for (const text of texts()) {
			expect(text).not.toMatch(/create an event|pull in events|listen for events|make an event happen|events from/i);
		}
	});

	it('keeps the editor\'s links working (executions list)', () => {
		const help = panel.executionsHelp as { active: string; inactive: string };
		expect(help.active).toContain('data-key="executions"');
		expect(help.inactive).toContain('data-key="executions"');
	});

	it('hides the webhook URLs: the trigger registers its URL with the engine itself', () => {
		expect(description.webhooks).toHaveLength(1);
		expect(description.webhooks?.[0]).toMatchObject({ name: 'default', ndvHideUrl: true });
	});
});
