import type { IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

/**
 * Reading parameters the engine cannot check for us (or would check with a vaguer message):
 * each failure is a `NodeOperationError` on the item, naming the parameter as the user sees it.
 */

/** A JSON parameter: an object or array from an expression as is, text parsed as JSON. */
export function jsonParameter(
	this: IExecuteFunctions,
	name: string,
	displayName: string,
	itemIndex: number,
): unknown {
	const value = this.getNodeParameter(name, itemIndex) as unknown;
	if (typeof value !== 'string') return value;
	if (value.trim() === '') return {};
	try {
		return JSON.parse(value) as unknown;
	} catch (error) {
		throw new NodeOperationError(this.getNode(), `${displayName} is not valid JSON`, {
			itemIndex,
			description: (error as Error).message,
		});
	}
}

/** A string parameter that must not be empty once trimmed. */
export function requiredString(
	this: IExecuteFunctions,
	name: string,
	displayName: string,
	itemIndex: number,
): string {
	const value = String(this.getNodeParameter(name, itemIndex, '') ?? '').trim();
	if (value === '') {
		throw new NodeOperationError(this.getNode(), `${displayName} is required`, { itemIndex });
	}
	return value;
}

/** A path segment the user typed (an id), encoded so it cannot change the path. */
export function pathSegment(value: string): string {
	return encodeURIComponent(value);
}
