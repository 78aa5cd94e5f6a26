import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

/** One operation of a resource: runs over all input items and returns the output items. */
export interface Operation {
	execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]>;
}

/** A node's operations by resource, then by operation value. */
export type OperationsByResource = Record<string, Record<string, Operation>>;

/** Finds the chosen resource's operation and runs it over the node's input. */
export async function routeToOperation(
	this: IExecuteFunctions,
	operations: OperationsByResource,
): Promise<INodeExecutionData[][]> {
	const resource = this.getNodeParameter('resource', 0) as string;
	const operation = this.getNodeParameter('operation', 0) as string;
	const selected = operations[resource]?.[operation];
	if (selected === undefined) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	return [await selected.execute.call(this, this.getInputData())];
}
