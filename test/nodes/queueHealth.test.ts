// Queue Health, run through n8n-core against a real engine over HTTP. Dead letters are made for
// real: tasks delivered to a receiver that rejects them. The health endpoints are checked in the
// engine's live OpenAPI document: without them those tests are skipped, not faked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { eventually } from '../helpers/engine.js';
import { startReceiver } from '../helpers/receiver.js';
import { jsonOf, listSearch, runNode, type RunOptions } from './harness.js';
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

describe('Redrive 1.1: a dead-letter group from the list', () => {
	// The same cause (422 from the same receiver) in two queues: one signature, two groups.
	let ledgerIds: string[];
	let archiveIds: string[];

	beforeAll(async () => {
		for (const name of ['ledger', 'archive']) expect((await engine.api('POST', '/v1/queues', { name })).status).toBe(201);
		ledgerIds = await makeDeadLetters('ledger', 2);
		archiveIds = await makeDeadLetters('archive', 1);
	});

	const redrive = (deadLetterGroup: IDataObject) =>
		run({ resource: 'deadLetter', operation: 'redrive', redriveBy: 'signature', deadLetterGroup }, { typeVersion: 1.1 });
	const states = async (ids: string[]) => Promise.all(ids.map(async (id) => (await engine.api<IDataObject>('GET', `/v1/tasks/${id}`)).body.state));

	it('lists each queue\'s groups as "cause · queue · N tasks", searchable', async () => {
		const { groups } = (await engine.api<{ groups: IDataObject[] }>('GET', '/v1/dead-letters?queue=ledger')).body;
		const signature = String(groups[0]!.signature);
		const all = await listSearch('queueHealth', 'searchDeadLetterGroups', engine.credentials);
		expect(all.results).toEqual(
			expect.arrayContaining([
				{ name: 'HTTP 422 Unprocessable Entity · ledger · 2 tasks', value: `ledger/${signature}` },
				{ name: 'HTTP 422 Unprocessable Entity · archive · 1 task', value: `archive/${signature}` },
			]),
		);
		const found = await listSearch('queueHealth', 'searchDeadLetterGroups', engine.credentials, 'LEDGER');
		expect(found.results.map((r) => r.value)).toEqual([`ledger/${signature}`]);
		expect((await listSearch('queueHealth', 'searchDeadLetterGroups', engine.credentials, 'no such cause')).results).toEqual([]);
	});

	it('redrives only the picked queue\'s group', async () => {
		const [group] = (await listSearch('queueHealth', 'searchDeadLetterGroups', engine.credentials, 'ledger')).results;
		const [moved] = jsonOf(await redrive({ __rl: true, mode: 'list', value: group!.value, cachedResultName: group!.name }));
		expect(moved!.redriven).toBe(2);
		expect([...(moved!.taskIds as string[])].sort()).toEqual([...ledgerIds].sort());
		expect(await states(archiveIds)).toEqual(['failed']);
		await eventually(async () => (await states(ledgerIds)).every((state) => state === 'failed'), 20_000, 'redriven tasks to fail again');
	});

	it('takes a signature by expression: with its queue for one group, bare for that cause in every queue', async () => {
		const groups = await run({ resource: 'deadLetter', operation: 'getAll', queue: byName('archive') }, { typeVersion: 1.1 });
		const oneQueue = await run(
			{ resource: 'deadLetter', operation: 'redrive', redriveBy: 'signature', deadLetterGroup: { __rl: true, mode: 'signature', value: '={{ $json.queue }}/{{ $json.signature }}' } },
			{ items: groups.outputs[0], typeVersion: 1.1 },
		);
		expect(jsonOf(oneQueue)[0]).toMatchObject({ redriven: 1, taskIds: archiveIds });
		await eventually(async () => (await states(archiveIds)).every((state) => state === 'failed'), 20_000, 'redriven task to fail again');

		const everywhere = await run(
			{ resource: 'deadLetter', operation: 'redrive', redriveBy: 'signature', deadLetterGroup: { __rl: true, mode: 'signature', value: '={{ $json.signature }}' } },
			{ items: groups.outputs[0], typeVersion: 1.1 },
		);
		const moved = jsonOf(everywhere)[0]!.taskIds as string[];
		// Every queue's dead letters of that cause: both groups (and any other queue's).
		expect(moved).toEqual(expect.arrayContaining([...ledgerIds, ...archiveIds]));
	});

	it('refuses a group that an expression left empty, and shows the engine\'s words for a malformed one', async () => {
		// (An empty value typed in never gets here: n8n refuses a required parameter left empty.)
		const empty = await redrive({ __rl: true, mode: 'signature', value: '={{ $json.nothing ?? "" }}' });
		expect(empty.error?.name).toBe('NodeOperationError');
		expect(empty.error!.message).toBe('Dead Letter Group is required');

		// Typed in, n8n checks the mode's pattern itself; by expression, the engine does.
		await expect(redrive({ __rl: true, mode: 'signature', value: 'ledger/not-a-signature' })).rejects.toThrow(/Use <queue>\/sig_ followed by 12 hex digits/);
		const malformed = await redrive({ __rl: true, mode: 'signature', value: '={{ "ledger/not-a-signature" }}' });
		expect(malformed.error?.name).toBe('NodeApiError');
		expect(malformed.error!.httpCode).toBe('400');
		expect(malformed.error!.message).toMatch(/signature/);
	});
});
