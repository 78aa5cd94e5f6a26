// The forms of Enqueue Task and Batch Process per node version, as n8n's editor and backend see
// them: parameters completed with n8n-workflow's getNodeParameters (what a new or loaded node gets)
// and shown by its displayParameterPath (what the editor's parameter lists and collections offer).
import { describe, expect, it } from 'vitest';
import { NodeHelpers, type INode, type INodeParameters, type INodeProperties, type INodeTypeDescription } from 'n8n-workflow';
import { BatchProcess } from '../../nodes/BatchProcess/BatchProcess.node';
import { EnqueueTask } from '../../nodes/EnqueueTask/EnqueueTask.node';
import { QueueHealth } from '../../nodes/QueueHealth/QueueHealth.node';
import { ScheduleTask } from '../../nodes/ScheduleTask/ScheduleTask.node';

/** A node as n8n holds it: its parameters completed with the defaults of what its version shows. */
function nodeOf(description: INodeTypeDescription, typeVersion: number, parameters: INodeParameters): INode {
	const node: INode = { id: 'n1', name: 'Node', type: description.name, typeVersion, position: [0, 0], parameters };
	node.parameters = NodeHelpers.getNodeParameters(description.properties, parameters, true, false, node, description)!;
	return node;
}

const displayed = (description: INodeTypeDescription, node: INode, property: INodeProperties, path: string) =>
	NodeHelpers.displayParameterPath({ parameters: node.parameters }, property, path, node, description);

/** Names of the top-level parameters the editor shows, in order. */
function shownParameters(description: INodeTypeDescription, node: INode): string[] {
	return description.properties.filter((p) => displayed(description, node, p, 'parameters')).map((p) => p.name);
}

/** The options a shown collection offers ("Add option"), each as the variant the editor picks. */
function offered(description: INodeTypeDescription, node: INode, collection: string): INodeProperties[] {
	const property = description.properties.find((p) => p.name === collection && displayed(description, node, p, 'parameters'));
	if (property === undefined) return [];
	return ((property.options ?? []) as INodeProperties[]).filter((o) => displayed(description, node, o, `parameters.${collection}`));
}

const namesOf = (options: INodeProperties[]) => options.map((o) => o.name);
const defaultOf = (options: INodeProperties[], name: string) => options.filter((o) => o.name === name).map((o) => o.default);

describe('Enqueue Task versions', () => {
	const { description } = new EnqueueTask();
	const enqueue = { resource: 'task', operation: 'enqueue' };

	it('is 1.1 for new nodes, and keeps 1 for saved ones', () => {
		expect(description.version).toEqual([1, 1.1]);
		expect(description.defaultVersion).toBe(1.1);
	});

	it('1.1: a new node sets no policy field; the retry fields are one "Retry" section', () => {
		const node = nodeOf(description, 1.1, enqueue);
		expect(node.parameters.options).toEqual({});
		expect(node.parameters.retry).toEqual({});
		expect(shownParameters(description, node).slice(-2)).toEqual(['retry', 'options']);
		expect(namesOf(offered(description, node, 'retry'))).toEqual(['backoff', 'delaySeconds', 'maxDelaySeconds', 'maxRetries']);
		expect(namesOf(offered(description, node, 'options'))).toEqual([
			'asyncTimeoutSeconds',
			'concurrencyKey',
			'debounce',
			'bulk',
			'idempotencyKey',
			'priority',
			'targetUrl',
			'timeoutSeconds',
		]);
		for (const option of [...offered(description, node, 'retry'), ...offered(description, node, 'options').filter((o) => o.name === 'timeoutSeconds')]) {
			expect(option.description, option.name).toMatch(/Not set: the queue's/);
		}
	});

	it.each([
		['no priority (the engine uses Normal)', {}, 3, 60],
		['High', { priority: 'high' }, 5, 30],
		['Normal', { priority: 'normal' }, 3, 60],
		['Low', { priority: 'low' }, 2, 300],
		['an expression (Normal shown)', { priority: '={{ $json.priority }}' }, 3, 60],
	])('1.1: with %s, Max Retries and Timeout start at that class\'s defaults', (_name, options, retries, timeout) => {
		const node = nodeOf(description, 1.1, { ...enqueue, options });
		expect(defaultOf(offered(description, node, 'retry'), 'maxRetries')).toEqual([retries]);
		expect(defaultOf(offered(description, node, 'options'), 'timeoutSeconds')).toEqual([timeout]);
	});

	it('1: saved workflows keep their loose options', () => {
		const options = { priority: 'high', retryLimit: 7, timeoutSeconds: 12 };
		const node = nodeOf(description, 1, { ...enqueue, options });
		expect(node.parameters.options).toEqual(options);
		expect(node.parameters.retry).toBeUndefined();
		expect(shownParameters(description, node)).not.toContain('retry');
		expect(namesOf(offered(description, node, 'options'))).toEqual(
			expect.arrayContaining(['retryBackoff', 'retryDelaySeconds', 'retryLimit', 'retryMaxDelaySeconds', 'timeoutSeconds']),
		);
	});
});

describe('Batch Process versions', () => {
	const { description } = new BatchProcess();
	const create = { resource: 'batch', operation: 'create' };

	it('is 1.1 for new nodes, and keeps 1 for saved ones', () => {
		expect(description.version).toEqual([1, 1.1]);
		expect(description.defaultVersion).toBe(1.1);
	});

	it('1.1: "Wait Until Finished" is a top-level toggle, its timeout right after it and only when on', () => {
		const off = nodeOf(description, 1.1, create);
		expect(off.parameters.waitUntilFinished).toBe(false);
		expect(shownParameters(description, off)).toEqual(['resource', 'operation', 'queue', 'taskName', 'itemsSource', 'chunkSize', 'waitUntilFinished', 'retry', 'options']);
		const on = nodeOf(description, 1.1, { ...create, waitUntilFinished: true });
		expect(on.parameters.waitTimeoutSeconds).toBe(3600);
		expect(shownParameters(description, on).slice(5, 8)).toEqual(['chunkSize', 'waitUntilFinished', 'waitTimeoutSeconds']);
		expect(namesOf(offered(description, on, 'options'))).not.toContain('waitUntilFinished');
		expect(namesOf(offered(description, on, 'retry'))).toEqual(['backoff', 'delaySeconds', 'maxDelaySeconds', 'maxRetries']);
	});

	it('1: saved workflows keep waiting among the options', () => {
		const node = nodeOf(description, 1, { ...create, options: { waitUntilFinished: true, waitTimeoutSeconds: 30 } });
		expect(node.parameters.waitUntilFinished).toBeUndefined();
		expect(node.parameters.options).toEqual({ waitUntilFinished: true, waitTimeoutSeconds: 30 });
		expect(shownParameters(description, node)).not.toContain('waitUntilFinished');
		expect(namesOf(offered(description, node, 'options'))).toEqual(expect.arrayContaining(['waitUntilFinished', 'waitTimeoutSeconds', 'retryLimit']));
	});
});

describe('Schedule Task versions', () => {
	const { description } = new ScheduleTask();
	const upsert = { resource: 'schedule', operation: 'upsert' };
	const preview = { resource: 'schedule', operation: 'previewNextRuns' };
	const propertyShown = (node: INode, name: string) => description.properties.find((p) => p.name === name && displayed(description, node, p, 'parameters'));

	it('is 1.1 for new nodes, and keeps 1 for saved ones', () => {
		expect(description.version).toEqual([1, 1.1]);
		expect(description.defaultVersion).toBe(1.1);
	});

	it('1.1: a new node runs every day at midnight, in a time zone picked from a list (the workflow\'s by default)', () => {
		const node = nodeOf(description, 1.1, upsert);
		expect(node.parameters).toMatchObject({ triggerInterval: 'days', daysInterval: 1, triggerAtHour: 0, triggerAtMinute: 0, timezone: 'workflow' });
		expect(node.parameters.scheduleType).toBeUndefined();
		expect(shownParameters(description, node)).toEqual([
			'resource', 'operation', 'scheduleName', 'queue', 'taskName', 'triggerInterval', 'daysInterval', 'triggerAtHour', 'triggerAtMinute', 'timezone', 'payload', 'retry', 'options',
		]);
		expect(propertyShown(node, 'timezone')).toMatchObject({ type: 'options', typeOptions: { loadOptionsMethod: 'getTimeZones' } });
		// Cron stays one choice away.
		const cron = nodeOf(description, 1.1, { ...upsert, triggerInterval: 'cronExpression' });
		expect(shownParameters(description, cron)).toEqual(expect.arrayContaining(['cron', 'timezone']));
		// Elapsed-time intervals know no time zone.
		expect(shownParameters(description, nodeOf(description, 1.1, { ...upsert, triggerInterval: 'minutes' }))).not.toContain('timezone');
	});

	it('1.1: the task policy as in Enqueue Task: nothing set on a new node, the retry fields one "Retry" section', () => {
		const node = nodeOf(description, 1.1, upsert);
		expect(node.parameters.options).toEqual({});
		expect(node.parameters.retry).toEqual({});
		expect(namesOf(offered(description, node, 'retry'))).toEqual(['backoff', 'delaySeconds', 'maxDelaySeconds', 'maxRetries']);
		expect(namesOf(offered(description, node, 'options'))).toEqual(['endAt', 'misfire', 'overlap', 'priority', 'startAt', 'targetUrl', 'timeoutSeconds']);
		for (const option of [...offered(description, node, 'retry'), ...offered(description, node, 'options').filter((o) => o.name === 'timeoutSeconds')]) {
			expect(option.description, option.name).toMatch(/Not set: the queue's/);
		}
	});

	it.each([
		['no priority (the engine uses Normal)', {}, 3, 60],
		['High', { priority: 'high' }, 5, 30],
		['Low', { priority: 'low' }, 2, 300],
	])('1.1: with %s, Max Retries and Timeout start at that class\'s defaults', (_name, options, retries, timeout) => {
		const node = nodeOf(description, 1.1, { ...upsert, options });
		expect(defaultOf(offered(description, node, 'retry'), 'maxRetries')).toEqual([retries]);
		expect(defaultOf(offered(description, node, 'options'), 'timeoutSeconds')).toEqual([timeout]);
	});

	it('1: saved workflows keep their loose policy options', () => {
		const options = { priority: 'high', retryLimit: 7, timeoutSeconds: 12 };
		const node = nodeOf(description, 1, { ...upsert, options });
		expect(node.parameters.options).toEqual(options);
		expect(node.parameters.retry).toBeUndefined();
		expect(shownParameters(description, node)).not.toContain('retry');
		expect(namesOf(offered(description, node, 'options'))).toEqual(
			expect.arrayContaining(['retryBackoff', 'retryDelaySeconds', 'retryLimit', 'retryMaxDelaySeconds', 'timeoutSeconds']),
		);
	});

	it('1: a saved node keeps cron as its default and a time zone typed in', () => {
		const node = nodeOf(description, 1, { ...upsert, scheduleName: 'sales-report', cron: '*/3 * * * * *', timezone: 'UTC' });
		expect(node.parameters).toMatchObject({ scheduleType: 'cron', cron: '*/3 * * * * *', timezone: 'UTC' });
		expect(node.parameters.triggerInterval).toBeUndefined();
		expect(propertyShown(node, 'timezone')).toMatchObject({ type: 'string' });
	});

	it('1.1: Preview Next Runs previews the rule typed in by default; 1 a saved schedule', () => {
		const node = nodeOf(description, 1.1, preview);
		expect(node.parameters).toMatchObject({ previewOf: 'rule', triggerInterval: 'days', count: 5 });
		expect(shownParameters(description, node)).not.toContain('schedule');
		expect(shownParameters(description, nodeOf(description, 1.1, { ...preview, previewOf: 'savedSchedule' }))).toEqual(['resource', 'operation', 'previewOf', 'schedule', 'count']);
		const saved = nodeOf(description, 1, preview);
		expect(saved.parameters.count).toBe(10);
		expect(shownParameters(description, saved)).toEqual(['resource', 'operation', 'schedule', 'count']);
	});

	it('no longer says n8n\'s generic upsert sentence on Create or Update', () => {
		const operation = description.properties.find((p) => p.name === 'operation')!;
		const upsertOption = (operation.options as { value: string; description?: string }[]).find((o) => o.value === 'upsert')!;
		expect(upsertOption.description ?? '').not.toMatch(/record|upsert/i);
	});
});

describe('Queue Health versions', () => {
	const { description } = new QueueHealth();
	const redrive = { resource: 'deadLetter', operation: 'redrive' };

	it('is 1.1 for new nodes, and keeps 1 for saved ones', () => {
		expect(description.version).toEqual([1, 1.1]);
		expect(description.defaultVersion).toBe(1.1);
	});

	it('1.1: Redrive picks a dead-letter group from a searchable list, with a mode for expressions', () => {
		const node = nodeOf(description, 1.1, redrive);
		expect(shownParameters(description, node)).toEqual(['resource', 'operation', 'redriveBy', 'deadLetterGroup']);
		const locator = description.properties.find((p) => p.name === 'deadLetterGroup')!;
		expect(locator.modes!.map((m) => [m.name, m.typeOptions?.searchListMethod, m.typeOptions?.searchable])).toEqual([
			['list', 'searchDeadLetterGroups', true],
			['signature', undefined, undefined],
		]);
	});

	it('1: a saved node keeps its signature typed in', () => {
		const node = nodeOf(description, 1, { ...redrive, signature: '={{ $json.body.signature }}' });
		expect(shownParameters(description, node)).toEqual(['resource', 'operation', 'redriveBy', 'signature']);
		expect(node.parameters.signature).toBe('={{ $json.body.signature }}');
	});
});
