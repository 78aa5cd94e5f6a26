import type {
	IDataObject,
	IExecuteFunctions,
	INode,
	INodeExecutionData,
	IPairedItemData,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { engineErrorBodyOf } from './transport';

/** What one operation run produces for one input item: one output item or several. */
export type ItemResult = IDataObject | IDataObject[];

/**
 * Runs `operation` once per input item and pairs every output item with its input. With
 * "Continue On Fail" (or the error output) a failing item becomes an error item paired with the
 * same input; otherwise the first failure stops the node, naming the item.
 */
export async function runPerItem(
	this: IExecuteFunctions,
	items: INodeExecutionData[],
	operation: (itemIndex: number) => Promise<ItemResult>,
): Promise<INodeExecutionData[]> {
	const output: INodeExecutionData[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const result = await operation(itemIndex);
			for (const json of Array.isArray(result) ? result : [result]) {
				output.push({ json, pairedItem: { item: itemIndex } });
			}
		} catch (error) {
			const nodeError = asNodeError(this.getNode(), error, itemIndex);
			if (!this.continueOnFail()) throw nodeError;
			output.push(errorItem(nodeError, { item: itemIndex }));
		}
	}
	return output;
}

/**
 * The item n8n routes to the error output: `json` holds only `error` and `details` (the engine's
 * field problems), the shape n8n recognises as an error item. The error object itself is not
 * attached: n8n would then replace `json` with the bare message and drop the details.
 */
export function errorItem(
	error: NodeApiError | NodeOperationError,
	pairedItem: IPairedItemData | IPairedItemData[],
): INodeExecutionData {
	const json: IDataObject = { error: error.message };
	const details = engineErrorBodyOf(error)?.error.details;
	if (details !== undefined && details.length > 0) json.details = details as unknown as IDataObject[];
	else if (error.description) json.details = error.description;
	return { json, pairedItem };
}

/** Any failure as the n8n error it should be shown as, tagged with the item it happened on. */
export function asNodeError(node: INode, error: unknown, itemIndex: number): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError) {
		error.context.itemIndex ??= itemIndex;
		return error;
	}
	if (error instanceof NodeOperationError) {
		error.context.itemIndex ??= itemIndex;
		return error;
	}
	if (error instanceof Error) return new NodeOperationError(node, error, { itemIndex });
	return new NodeApiError(node, error as JsonObject, { itemIndex });
}

/** All input items paired, for outputs that stand for the whole input (one batch of all items). */
export function pairedWithAll(items: INodeExecutionData[]): IPairedItemData[] {
	return items.map((_, item) => ({ item }));
}
