import type { INodeProperties } from 'n8n-workflow';

/**
 * The `resource` parameter of a node with one resource: hidden, since a dropdown with a single
 * choice only adds clutter, but kept with the same name, value and option.
 *
 * Kept, not removed, so saved workflows stay as they are (their `resource` value, and every
 * operation field's `displayOptions.show.resource`, still match) and no node version is needed.
 * Its `options` stay too: n8n's node creator builds the node's action list ("Enqueue a task", …)
 * from the options of a parameter named `resource`, and offers no actions at all for a node that
 * has one without options.
 */
export function singleResource(name: string, value: string): INodeProperties {
	return {
		displayName: 'Resource',
		name: 'resource',
		type: 'hidden',
		noDataExpression: true,
		options: [{ name, value }],
		default: value,
	};
}
