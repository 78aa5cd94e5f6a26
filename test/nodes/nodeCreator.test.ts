// How the nodes meet a user in n8n's node creator and parameter panel (issue 16, item 10): found by
// "background", no single-choice "Resource" dropdown (kept hidden, so saved workflows and the
// action list stay as they were), the main operation first, and five icons told apart at a glance.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { INodePropertyOptions, INodeTypeDescription } from 'n8n-workflow';
import { BatchProcess } from '../../nodes/BatchProcess/BatchProcess.node';
import { EnqueueTask } from '../../nodes/EnqueueTask/EnqueueTask.node';
import { QueueHealth } from '../../nodes/QueueHealth/QueueHealth.node';
import { ScheduleTask } from '../../nodes/ScheduleTask/ScheduleTask.node';
import { TaskTrigger } from '../../nodes/TaskTrigger/TaskTrigger.node';

const nodes: Record<string, INodeTypeDescription> = {
	BatchProcess: new BatchProcess().description,
	EnqueueTask: new EnqueueTask().description,
	QueueHealth: new QueueHealth().description,
	ScheduleTask: new ScheduleTask().description,
	TaskTrigger: new TaskTrigger().description,
};
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const codexOf = (folder: string) => JSON.parse(read(`nodes/${folder}/${folder}.node.json`)) as { alias: string[] };
const operationValues = (description: INodeTypeDescription) =>
	((description.properties.find((p) => p.name === 'operation')?.options ?? []) as INodePropertyOptions[]).map((o) => o.value);

describe('node creator', () => {
	it('finds every node by "background"', () => {
		for (const folder of Object.keys(nodes)) {
			const { alias } = codexOf(folder);
			const text = [nodes[folder]!.displayName, nodes[folder]!.description, ...alias].join(' ').toLowerCase();
			expect(text, folder).toContain('background');
		}
		expect(codexOf('QueueHealth').alias).toContain('background');
	});

	it('hides the single-choice Resource, keeping its value and option (actions list, saved workflows)', () => {
		for (const [folder, value] of [['EnqueueTask', 'task'], ['BatchProcess', 'batch'], ['ScheduleTask', 'schedule']] as const) {
			const resource = nodes[folder]!.properties.find((p) => p.name === 'resource')!;
			expect(resource.type, folder).toBe('hidden');
			expect(resource.default, folder).toBe(value);
			expect(resource.options, folder).toEqual([expect.objectContaining({ value })]);
		}
		// Two resources: a real choice, still shown.
		expect(nodes.QueueHealth!.properties.find((p) => p.name === 'resource')!.type).toBe('options');
	});

	it('lists the main operation first', () => {
		// Then what a worker reports about its own task, then managing tasks.
		expect(operationValues(nodes.EnqueueTask!)).toEqual(['enqueue', 'complete', 'fail', 'heartbeat', 'get', 'getAll', 'retry', 'cancel']);
		expect(operationValues(nodes.BatchProcess!)[0]).toBe('create');
		expect(operationValues(nodes.ScheduleTask!)[0]).toBe('upsert');
		expect(operationValues(nodes.ScheduleTask!).at(-1)).toBe('delete');
	});
});

describe('icons', () => {
	const iconFiles = (description: INodeTypeDescription) => {
		const icon = description.icon as { light: string; dark: string };
		return [icon.light, icon.dark].map((file) => file.replace(/^file:/, ''));
	};
	const svgs = Object.entries(nodes).flatMap(([folder, description]) => iconFiles(description).map((file) => read(`nodes/${folder}/${file}`)));
	const tileColour = (svg: string) => /<rect x="3" y="7"[^>]*fill="(#[0-9a-f]{6})"/.exec(svg)?.[1];
	const glyph = (svg: string) => svg.split('\n').slice(3).join('\n').replace(/#[0-9a-f]{6}/g, '');

	it('gives each node its own light and dark icon, of one family', () => {
		expect(svgs).toHaveLength(10);
		expect(new Set(svgs).size).toBe(10);
		for (const svg of svgs) {
			expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 60 60"/);
			expect(tileColour(svg)).toBeDefined();
		}
	});

	it('tells the nodes apart by colour and by glyph, not by a badge', () => {
		const light = Object.entries(nodes).map(([folder, description]) => read(`nodes/${folder}/${iconFiles(description)[0]}`));
		expect(new Set(light.map(tileColour)).size).toBe(5);
		expect(new Set(light.map(glyph)).size).toBe(5);
	});
});
