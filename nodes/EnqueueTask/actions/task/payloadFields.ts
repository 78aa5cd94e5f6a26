import type { AssignmentCollectionValue, FieldType, IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, validateFieldType } from 'n8n-workflow';

/**
 * The payload as "fields below" (issue 16): name/value pairs with a type each, the editor n8n's
 * Edit Fields (Set) node uses (`assignmentCollection`: drag a field from the input, pick String,
 * Number, Boolean, Array or Object). Values are converted to their type as Set converts them, and a
 * name with dots makes nested fields (`customer.email` → `{ customer: { email } }`), as Set does by
 * default.
 */
export const payloadFieldsProperty: INodeProperties = {
	displayName: 'Payload Fields',
	name: 'payloadFields',
	type: 'assignmentCollection',
	default: {},
	description: 'The fields of the payload; a name with dots (customer.email) makes nested fields',
};

/** Names that would reach an object's prototype instead of making a field. */
const UNSAFE_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/** The payload object of one item, from the "Payload Fields" parameter. */
export function payloadFromFields(this: IExecuteFunctions, itemIndex: number): IDataObject {
	const collection = this.getNodeParameter('payloadFields', itemIndex, {}) as Partial<AssignmentCollectionValue>;
	const payload: IDataObject = {};
	for (const assignment of collection.assignments ?? []) {
		const name = String(assignment.name ?? '').trim();
		if (name === '') {
			throw new NodeOperationError(this.getNode(), 'A payload field has no name', { itemIndex });
		}
		const path = name.split('.');
		if (path.some((key) => key === '' || UNSAFE_KEYS.has(key))) {
			throw new NodeOperationError(this.getNode(), `Payload field name "${name}" is not usable`, {
				itemIndex,
				description: 'Each part between dots must be a non-empty name other than __proto__, prototype or constructor',
			});
		}
		setPath(payload, path, typedValue.call(this, name, assignment.value, assignment.type ?? 'string', itemIndex));
	}
	return payload;
}

/** A field's value as its type, or a NodeOperationError naming the field. */
function typedValue(this: IExecuteFunctions, name: string, value: unknown, type: string, itemIndex: number): unknown {
	if (value === undefined || value === null) return null;
	if (type === 'string') return typeof value === 'object' ? JSON.stringify(value) : String(value);
	const validation = validateFieldType(name, value, type as FieldType);
	if (!validation.valid) {
		throw new NodeOperationError(this.getNode(), `Payload field "${name}": ${validation.errorMessage ?? `not a ${type}`}`, {
			itemIndex,
			description: `Change the field's type, or its value to a ${type}`,
		});
	}
	return validation.newValue ?? null;
}

function setPath(target: IDataObject, path: string[], value: unknown): void {
	let object = target;
	for (const key of path.slice(0, -1)) {
		const next = object[key];
		// A field set earlier as a plain value becomes an object when a later one nests under it.
		if (typeof next !== 'object' || next === null || Array.isArray(next)) object[key] = {};
		object = object[key] as IDataObject;
	}
	object[path[path.length - 1]] = value as IDataObject[keyof IDataObject];
}
