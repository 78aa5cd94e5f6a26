// Batch Process, run through n8n-core against a real engine over HTTP, with a real receiver as
// the chunks' handler.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { startReceiver } from '../helpers/receiver.js';
import { jsonOf, runNode, type RunOptions } from './harness.js';
import { byName, startNodeTestEngine } from './nodeEngine.js';

const engine = await startNodeTestEngine();
afterAll(async () => {
	await engine.stop();
});
const run = (parameters: INodeParameters, options: Partial<RunOptions> = {}) =>
	runNode('batchProcess', { resource: 'batch', ...parameters }, { credentials: engine.credentials, ...options });

const create = (extra: INodeParameters = {}): INodeParameters => ({
	operation: 'create',
	queue: byName('imports'),
	taskName: 'import-contacts',
	itemsSource: 'allItems',
	chunkSize: 2,
	options: {},
	...extra,
});

const itemsOf = (count: number) => Array.from({ length: count }, (_, n) => ({ json: { n } }));

describe('Batch Process', () => {
	let receiver: Awaited<ReturnType<typeof startReceiver>>;
	let failing: Awaited<ReturnType<typeof startReceiver>>;

	beforeAll(async () => {
		receiver = await startReceiver();
		// Fails every chunk at once (a 400 is not retried), so the batch finishes with failures.
		failing = await startReceiver(() => ({ status: 400, body: { error: 'rejected' } }));
		expect((await engine.api('POST', '/v1/queues', { name: 'imports' })).status).toBe(201);
	});

	afterAll(async () => {
		await receiver?.close();
		await failing?.close();
	});

	it('turns all input items into one batch, paired with every item', async () => {
		const items = itemsOf(5);
		const result = await run(create({ options: { targetUrl: 'http://127.0.0.1:9/never', delayBetweenChunksSeconds: 60 } }), { items });
		expect(result.error).toBeUndefined();
		const [output] = result.outputs[0]!;
		expect(output!.pairedItem).toEqual(items.map((_, item) => ({ item })));
		expect(output!.json).toMatchObject({ totalItems: 5, totalChunks: 3 });
		const stored = await engine.api<IDataObject>('GET', `/v1/batches/${String(output!.json.id)}`);
		expect(stored.body).toMatchObject({ queue: 'imports', name: 'import-contacts', chunkSize: 2, url: 'http://127.0.0.1:9/never' });
	});

	it('makes one batch per item from an array field, and names a field that is not an array', async () => {
		const items = [{ json: { data: { rows: [1, 2, 3] } } }, { json: { data: { rows: ['a'] } } }];
		const batches = jsonOf(await run(create({ itemsSource: 'arrayField', arrayField: 'data.rows', options: { targetUrl: 'http://127.0.0.1:9/never' } }), { items }));
		expect(batches.map((b) => [b.totalItems, b.totalChunks])).toEqual([
			[3, 2],
			[1, 1],
		]);

		const bad = await run(create({ itemsSource: 'arrayField', arrayField: 'data' }), { items });
		expect(bad.error?.name).toBe('NodeOperationError');
		expect(bad.error!.message).toBe('Field "data" is not an array');
	});

	it('sends a large input in pages: open, add items, start', async () => {
		// 40 items of ~30 KB: too large for one request under the 1 MiB body limit.
		const filler = 'x'.repeat(30_000);
		const items = Array.from({ length: 40 }, (_, n) => ({ json: { n, filler } }));
		const [batch] = jsonOf(await run(create({ chunkSize: 5, options: { targetUrl: 'http://127.0.0.1:9/never', delayBetweenChunksSeconds: 60 } }), { items }));
		expect(batch).toMatchObject({ totalItems: 40, totalChunks: 8 });
		expect(batch!.state).not.toBe('open');
	});

	it('waits until the batch is finished, polling with n8n sleep', async () => {
		const items = itemsOf(6);
		const [batch] = jsonOf(await run(create({ chunkSize: 2, options: { targetUrl: receiver.url, concurrency: 3, payload: '{"source":"crm"}', waitUntilFinished: true, waitTimeoutSeconds: 30 } }), { items }));
		expect(batch).toMatchObject({ state: 'completed', totalItems: 6, items: { processed: 6, failed: 0 }, chunks: { completed: 3, failed: 0 } });
		const chunkBodies = receiver.requests.map((r) => r.json as IDataObject).filter((body) => (body.batch as IDataObject)?.id === batch!.id);
		expect(chunkBodies).toHaveLength(3);
		expect(chunkBodies[0]!.payload).toMatchObject({ source: 'crm', items: expect.any(Array) });
	});

	it('fails when the batch does not finish within the wait timeout', async () => {
		const result = await run(create({ options: { targetUrl: 'http://127.0.0.1:9/never', delayBetweenChunksSeconds: 600, waitUntilFinished: true, waitTimeoutSeconds: 1 } }), { items: itemsOf(4) });
		expect(result.error?.name).toBe('NodeOperationError');
		expect(result.error!.message).toMatch(/did not finish within 1 seconds/);
	});

	it('1.1: waits with the top-level toggle, and sends the Retry section to every chunk', async () => {
		const items = itemsOf(4);
		const parameters = create({
			waitUntilFinished: true,
			waitTimeoutSeconds: 30,
			retry: { maxRetries: 1, backoff: 'fixed' },
			options: { targetUrl: receiver.url, priority: 'low' },
			taskName: 'import-v11',
		});
		const [batch] = jsonOf(await run(parameters, { items, typeVersion: 1.1 }));
		expect(batch).toMatchObject({ state: 'completed', totalItems: 4, chunks: { completed: 2, failed: 0 } });
		const chunks = await engine.api<{ items: IDataObject[] }>('GET', '/v1/tasks?queue=imports&name=import-v11');
		expect(chunks.body.items).toHaveLength(2);
		for (const chunk of chunks.body.items) {
			// Low's 300 s timeout is inherited; the retry fields set are the task's.
			expect(chunk).toMatchObject({ priority: -10, retry: { limit: 1, backoff: 'fixed', delaySeconds: 60 }, timeoutSeconds: 300 });
		}
	});

	it('1.1: outputs the batch at once when not waiting (options of version 1 do not apply)', async () => {
		const parameters = create({ options: { targetUrl: 'http://127.0.0.1:9/never', delayBetweenChunksSeconds: 600, waitUntilFinished: true } });
		const [batch] = jsonOf(await run(parameters, { items: itemsOf(2), typeVersion: 1.1 }));
		expect(batch!.state).not.toBe('completed');
	});

	it('gets the status, cancels, and retries the failed chunks', async () => {
		const [pending] = jsonOf(await run(create({ options: { targetUrl: 'http://127.0.0.1:9/never', delayBetweenChunksSeconds: 600 } }), { items: itemsOf(6) }));
		const [status] = jsonOf(await run({ operation: 'get', batchId: String(pending!.id) }));
		expect(status).toMatchObject({ id: pending!.id, totalChunks: 3, chunks: expect.any(Object), items: expect.any(Object) });
		const [cancelled] = jsonOf(await run({ operation: 'cancel', batchId: '={{ $json.id }}' }, { items: [{ json: { id: pending!.id } }] }));
		expect(cancelled!.id).toBe(pending!.id);
		// The first chunk may already be on its way (it finishes); the two waiting ones are cancelled.
		expect((cancelled!.chunks as IDataObject).cancelled).toBeGreaterThanOrEqual(2);

		const [failed] = jsonOf(await run(create({ options: { targetUrl: failing.url, waitUntilFinished: true, waitTimeoutSeconds: 30 } }), { items: itemsOf(2) }));
		expect(failed).toMatchObject({ state: 'failed', chunks: { failed: 1 } });
		const before = failing.requests.length;
		const [retried] = jsonOf(await run({ operation: 'retryFailed', batchId: String(failed!.id) }));
		expect(retried!.id).toBe(failed!.id);
		await expect.poll(() => failing.requests.length, { timeout: 15_000 }).toBeGreaterThan(before);
	});

	it("shows the engine's message for bad input, and continues on fail", async () => {
		const tooBig = await run(create({ chunkSize: 20_000 }), { items: itemsOf(1) });
		expect(tooBig.error?.name).toBe('NodeApiError');
		expect(tooBig.error!.httpCode).toBe('400');
		expect(tooBig.error!.message).toMatch(/chunkSize/);

		const continued = await run(create({ chunkSize: 20_000 }), { items: itemsOf(3), onError: 'continueRegularOutput' });
		const [errorItem] = continued.outputs[0]!;
		expect(errorItem!.pairedItem).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(String(errorItem!.json.error)).toMatch(/chunkSize/);
	});
});
