import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError, sleep } from 'n8n-workflow';

import { pathSegment } from '../../../shared/parameters';
import { engineRequest } from '../../../shared/transport';

/** States after which a batch's counters no longer move (until a retry of its failed chunks). */
export const FINAL_BATCH_STATES = new Set(['completed', 'completed_with_failures', 'cancelled', 'failed']);

const FIRST_POLL_MS = 1000;
const MAX_POLL_MS = 15_000;

/**
 * Polls the batch until it reaches a final state, waiting 1 s, then 1.5 times longer each time
 * (at most 15 s), with n8n's `sleep` (raw timers are not allowed in community nodes). Fails with
 * the last known counters when `timeoutSeconds` pass first.
 */
export async function waitForBatch(
	this: IExecuteFunctions,
	batchId: string,
	timeoutSeconds: number,
	itemIndex: number,
): Promise<IDataObject> {
	const deadline = Date.now() + timeoutSeconds * 1000;
	let pause = FIRST_POLL_MS;
	for (;;) {
		const batch = await engineRequest(this, { method: 'GET', path: `/v1/batches/${pathSegment(batchId)}`, itemIndex });
		if (FINAL_BATCH_STATES.has(String(batch.state))) return batch;
		const remaining = deadline - Date.now();
		if (remaining <= 0) {
			throw new NodeOperationError(this.getNode(), `Batch ${batchId} did not finish within ${timeoutSeconds} seconds`, {
				itemIndex,
				description: `Last known state: ${String(batch.state)}. The batch keeps running in the engine; use Get Status to follow it.`,
			});
		}
		await sleep(Math.min(pause, remaining));
		pause = Math.min(Math.round(pause * 1.5), MAX_POLL_MS);
	}
}
