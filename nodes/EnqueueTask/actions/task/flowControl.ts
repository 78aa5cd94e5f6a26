import type { IDataObject, INode, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

/**
 * Enqueue's flow-control options (docs/flow-control.md): a concurrency key, which puts the task under its
 * queue's per-key limits, and debounce, which folds a burst of enqueues with one key into one task.
 * The engine checks the same bounds; they are checked here first so that the error names the
 * parameter as the user sees it and no item of the run is sent with a key it did not mean.
 */

/** Longest key the engine stores, in characters. */
const MAX_KEY_LENGTH = 200;
/** Longest debounce wait and max wait the engine accepts: one day. */
const MAX_DEBOUNCE_SECONDS = 86400;

export const concurrencyKeyOption: INodeProperties = {
	displayName: 'Concurrency Key',
	name: 'concurrencyKey',
	type: 'string',
	default: '',
	placeholder: 'e.g. {{ $json.customerId }}',
	description:
		"Tasks with the same key obey the queue's per-key limits while other keys go on: with the queue's Key Concurrency 1, each customer's tasks run one at a time; with Key Rate Limit 2 per second, an API that allows 2 calls per second per account is never called faster. Up to 200 characters; an item whose key comes out empty stops the node (remove the option to enqueue without a key).",
};

export const debounceOption: INodeProperties = {
	displayName: 'Debounce',
	name: 'debounce',
	type: 'fixedCollection',
	typeOptions: { multipleValues: false },
	default: { settings: {} },
	placeholder: 'Add Debounce',
	description:
		'Enqueues with the same key, each within Wait of the last, make one task that runs when the burst is over. With Collect, five chat messages from one user in three seconds become one AI-agent run with all five.',
	options: [
		{
			displayName: 'Settings',
			name: 'settings',
			values: [
				{
					displayName: 'Key',
					name: 'key',
					type: 'string',
					default: '',
					placeholder: 'e.g. {{ $json.userId }}',
					description: 'Enqueues to this queue with the same key join one task while it has not started. Up to 200 characters.',
				},
				{
					displayName: 'Wait (Seconds)',
					name: 'seconds',
					type: 'number',
					typeOptions: { minValue: 0, maxValue: MAX_DEBOUNCE_SECONDS },
					default: 5,
					description: 'Quiet time after the last enqueue of the key before the task runs; each new enqueue starts it again',
				},
				{
					displayName: 'Mode',
					name: 'mode',
					type: 'options',
					options: [
						{
							name: 'Replace Payload',
							value: 'replace',
							description: "The task runs once, with the last enqueue's payload",
						},
						{
							name: 'Collect Payloads Into Items',
							value: 'collect',
							description: 'The task runs once with payload <code>{ items: [...] }</code>: every payload of the burst, in arrival order',
						},
					],
					default: 'replace',
				},
				{
					displayName: 'Max Wait (Seconds)',
					name: 'maxWaitSeconds',
					type: 'number',
					typeOptions: { minValue: 0, maxValue: MAX_DEBOUNCE_SECONDS },
					default: 0,
					description:
						'The task runs at the latest this long after the first enqueue of the burst, even if more keep coming. 0: no limit.',
				},
			],
		},
	],
};

/** The engine's `concurrencyKey` and `debounce` fields for the options the user added. */
export function flowControlFields(node: INode, options: IDataObject, itemIndex: number): IDataObject {
	const fields: IDataObject = {};
	// Added but empty for an item (a customer id missing, say) is an error, not "no key": a task
	// without a key is not limited per key, which is the opposite of what the option asked for.
	if ('concurrencyKey' in options) {
		fields.concurrencyKey = keyOf(node, options.concurrencyKey, 'Concurrency Key', itemIndex);
	}
	const debounce = (options.debounce as IDataObject | undefined)?.settings as IDataObject | undefined;
	if (debounce !== undefined) fields.debounce = debounceOf(node, debounce, itemIndex);
	return fields;
}

/** A key as the engine takes it: trimmed, not empty, at most 200 characters. */
function keyOf(node: INode, value: unknown, displayName: string, itemIndex: number): string {
	const key = String(value ?? '').trim();
	if (key === '') {
		throw new NodeOperationError(node, `${displayName} is empty`, {
			itemIndex,
			description:
				displayName === 'Concurrency Key'
					? 'Every task needs its key, e.g. {{ $json.customerId }}; a task without one is not limited per key. Remove the option to enqueue without a key.'
					: 'Every task of a burst needs its key, e.g. {{ $json.userId }}.',
		});
	}
	// Characters as PostgreSQL counts them (code points), not UTF-16 units.
	const length = [...key].length;
	if (length > MAX_KEY_LENGTH) {
		throw new NodeOperationError(node, `${displayName} is longer than ${MAX_KEY_LENGTH} characters (${length})`, { itemIndex });
	}
	return key;
}

function debounceOf(node: INode, settings: IDataObject, itemIndex: number): IDataObject {
	const key = keyOf(node, settings.key, 'Debounce Key', itemIndex);
	const seconds = Number(settings.seconds);
	if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_DEBOUNCE_SECONDS) {
		throw new NodeOperationError(node, `Debounce Wait (Seconds) must be more than 0 and at most ${MAX_DEBOUNCE_SECONDS}`, { itemIndex });
	}
	const mode = settings.mode ?? 'replace';
	if (mode !== 'replace' && mode !== 'collect') {
		throw new NodeOperationError(node, 'Debounce Mode must be "replace" or "collect"', { itemIndex });
	}
	const debounce: IDataObject = { key, seconds, mode };
	const maxWait = Number(settings.maxWaitSeconds ?? 0);
	if (maxWait !== 0) {
		if (!Number.isFinite(maxWait) || maxWait < seconds || maxWait > MAX_DEBOUNCE_SECONDS) {
			throw new NodeOperationError(
				node,
				`Debounce Max Wait (Seconds) must be at least Wait (Seconds) (${seconds}) and at most ${MAX_DEBOUNCE_SECONDS}, or 0 for no limit`,
				{ itemIndex },
			);
		}
		debounce.maxWaitSeconds = maxWait;
	}
	return debounce;
}
