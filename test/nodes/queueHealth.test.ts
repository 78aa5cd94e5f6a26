// Queue Health, run through n8n-core against a real engine over HTTP. Dead letters are made for
// real: tasks delivered to a receiver that rejects them. The health endpoints are checked in the
// engine's live OpenAPI document: without them those tests are skipped, not faked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { eventually } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';
import { jsonOf, runNode, type RunOptions } from './harness.js';
import { byName, startNodeTestEngine } from './nodeEngine.js';

const engine = await startNodeTestEngine();
let rejecting: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
	// 422 is not retried: each task becomes a dead letter after one attempt.
	rejecting = await startReceiver(() => ({ status: 422, body: { error: 'unprocessable' } }));
	for (const name of ['billing', 'quiet', 'backlog']) expect((await engine.api('POST', '/v1/queues', { name })).status).toBe(201);
});

afterAll(async () => {
	await rejecting?.close();
	await engine.stop();
});

const run = (parameters: INodeParameters, options: Partial<RunOptions> = {}) =>
	runNode('queueHealth', parameters, { credentials: engine.credentials, ...options });

/** Enqueues tasks that fail at once, and waits until they are dead letters. */
async function makeDeadLetters(queue: string, count: number): Promise<string[]> {
	const ids: string[] = [];
	for (let n = 0; n < count; n++) {
		const res = await engine.api<IDataObject>('POST', '/v1/tasks', { queue, name: 'charge', payload: { n }, url: rejecting.url });
		expect(res.status).toBe(201);
		ids.push(String(res.body.id));
	}
	await eventually(async () => {
		const states = await Promise.all(ids.map(async (id) => (await engine.api<IDataObject>('GET', `/v1/tasks/${id}`)).body.state));
		return states.every((state) => state === 'failed');
	}, 20_000, 'tasks to fail');
	return ids;
}

describe('Dead letters', () => {
	let failedIds: string[];

	beforeAll(async () => {
		failedIds = await makeDeadLetters('billing', 3);
	});

	it('lists dead letters grouped by error, one item per group', async () => {
		const groups = jsonOf(await run({ resource: 'deadLetter', operation: 'getAll', queue: byName('billing') }));
		expect(groups).toHaveLength(1);
		expect(groups[0]).toMatchObject({ queue: 'billing', statusCode: 422, count: 3 });
		expect([...(groups[0]!.taskIds as string[])].sort()).toEqual([...failedIds].sort());

		const everywhere = await run({ resource: 'deadLetter', operation: 'getAll', queue: { __rl: true, mode: 'list', value: '' } });
		expect(everywhere.outputs[0]!.every((item) => item.pairedItem !== undefined)).toBe(true);
		expect(jsonOf(everywhere).map((g) => g.signature)).toContain(groups[0]!.signature);
	});

	it('redrives by task IDs, by the signature of a listed group, and by queue', async () => {
		const [one] = jsonOf(await run({ resource: 'deadLetter', operation: 'redrive', redriveBy: 'taskIds', taskIds: '={{ $json.ids }}' }, { items: [{ json: { ids: [failedIds[0]] } }] }));
		expect(one).toEqual({ redriven: 1, taskIds: [failedIds[0]], remaining: 0 });

		// List, then redrive what was listed: the signature comes from the previous item by expression.
		await eventually(async () => (await engine.api<IDataObject>('GET', `/v1/tasks/${failedIds[0]}`)).body.state === 'failed', 20_000, 'redriven task to fail again');
		const groups = await run({ resource: 'deadLetter', operation: 'getAll', queue: byName('billing') });
		const bySignature = await run({ resource: 'deadLetter', operation: 'redrive', redriveBy: 'signature', signature: '={{ $json.signature }}' }, { items: groups.outputs[0] });
		expect(jsonOf(bySignature)[0]!.redriven).toBe(3);
		expect(bySignature.outputs[0]![0]!.pairedItem).toEqual({ item: 0 });

		await eventually(async () => {
			const states = await Promise.all(failedIds.map(async (id) => (await engine.api<IDataObject>('GET', `/v1/tasks/${id}`)).body.state));
			return states.every((state) => state === 'failed');
		}, 20_000, 'tasks to fail again');
		const [byQueue] = jsonOf(await run({ resource: 'deadLetter', operation: 'redrive', redriveBy: 'queue', queue: byName('billing') }));
		expect(byQueue!.redriven).toBe(3);
	});

	it('rejects an empty selector before calling the engine', async () => {
		const result = await run({ resource: 'deadLetter', operation: 'redrive', redriveBy: 'taskIds', taskIds: ' , ' });
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error!.message).toBe('Task IDs are required');
	});
});

describe('Get Health', () => {
	beforeAll(async () => {
		// Due tasks and no handler at all: the engine calls that critical (no_handler).
		for (let n = 0; n < 2; n++) expect((await engine.api('POST', '/v1/tasks', { queue: 'backlog', name: 'wait', payload: { n } })).status).toBe(201);
	});

	it('outputs one item per queue with its figures and status', async () => {
		const queues = jsonOf(await run({ resource: 'queue', operation: 'getHealth', scope: 'all', thresholds: {}, options: {} }));
		const byQueue = Object.fromEntries(queues.map((q) => [q.queue, q]));
		expect(Object.keys(byQueue)).toEqual(expect.arrayContaining(['billing', 'quiet', 'backlog']));
		expect(byQueue.quiet).toMatchObject({ status: 'ok', counts: { queued: 0 } });
		expect(byQueue.backlog).toMatchObject({ status: 'critical', counts: { queued: 2 } });
		expect((byQueue.backlog!.reasons as IDataObject[]).map((r) => r.code)).toContain('no_handler');
	});

	it('outputs only queues that are not OK, for an alert after it', async () => {
		const queues = jsonOf(await run({ resource: 'queue', operation: 'getHealth', scope: 'all', thresholds: {}, options: { onlyNotOk: true } }));
		expect(queues.length).toBeGreaterThan(0);
		expect(queues.every((q) => q.status !== 'ok')).toBe(true);
		expect(queues.map((q) => q.queue)).not.toContain('quiet');
	});

	it('applies thresholds to one queue', async () => {
		const strict = jsonOf(await run({ resource: 'queue', operation: 'getHealth', scope: 'one', queue: byName('billing'), thresholds: { maxDeadLetters: 1 }, options: {} }));
		expect(strict).toHaveLength(1);
		expect(strict[0]).toMatchObject({ queue: 'billing' });
		expect(strict[0]!.status).not.toBe('ok');
		expect((strict[0]!.reasons as IDataObject[]).length).toBeGreaterThan(0);

		const lenient = jsonOf(await run({ resource: 'queue', operation: 'getHealth', scope: 'one', queue: byName('quiet'), thresholds: { maxDeadLetters: 1000, maxFailureRate: 1 }, options: { windowSeconds: 600 } }));
		expect(lenient[0]).toMatchObject({ queue: 'quiet', status: 'ok' });
	});

	it("shows the engine's message for an unknown queue and a bad threshold", async () => {
		const missing = await run({ resource: 'queue', operation: 'getHealth', scope: 'one', queue: byName('nowhere'), thresholds: {}, options: {} });
		expect(missing.error?.name).toBe('NodeApiError');
		expect(missing.error!.httpCode).toBe('404');

		const badThreshold = await run({ resource: 'queue', operation: 'getHealth', scope: 'all', thresholds: { maxFailureRate: 5 }, options: {} });
		expect(badThreshold.error?.name).toBe('NodeApiError');
		expect(badThreshold.error!.message).toMatch(/maxFailureRate/);
	});
});
