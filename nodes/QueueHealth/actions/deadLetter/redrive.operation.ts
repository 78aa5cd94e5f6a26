import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { runPerItem } from '../../../shared/items';
import { queueLocator, queueNameParameter } from '../../../shared/queueLocator';
import { engineRequest } from '../../../shared/transport';
import { shownFromVersion1_1, shownInVersion1 } from '../../../shared/versions';
import { deadLetterGroupLocator, deadLetterGroupSelector } from './deadLetterGroupLocator';

const properties: INodeProperties[] = [
	{
		displayName: 'Redrive',
		name: 'redriveBy',
		type: 'options',
		options: [
			{ name: 'All of a Queue', value: 'queue', description: 'Every dead letter of one queue' },
			{
				name: 'By Error Signature',
				value: 'signature',
				description: 'One group of the dead letter list, e.g. from Get Many',
			},
			{ name: 'By Task IDs', value: 'taskIds' },
		],
		default: 'signature',
		displayOptions: { show: shownInVersion1 },
	},
	{
		displayName: 'Redrive',
		name: 'redriveBy',
		type: 'options',
		options: [
			{ name: 'All of a Queue', value: 'queue', description: 'Every dead letter of one queue' },
			{
				name: 'Dead Letter Group',
				value: 'signature',
				description: 'The failed tasks of one queue that failed for the same reason',
			},
			{ name: 'By Task IDs', value: 'taskIds' },
		],
		default: 'signature',
		displayOptions: { show: shownFromVersion1_1 },
	},
	queueLocator({ displayOptions: { show: { redriveBy: ['queue'] } } }),
	{
		displayName: 'Error Signature',
		name: 'signature',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. {{ $json.signature }}',
		description: 'The <code>signature</code> of a dead letter group',
		displayOptions: { show: { ...shownInVersion1, redriveBy: ['signature'] } },
	},
	{ ...deadLetterGroupLocator, displayOptions: { show: { ...shownFromVersion1_1, redriveBy: ['signature'] } } },
	{
		displayName: 'Task IDs',
		name: 'taskIds',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'e.g. {{ $json.taskIds }}',
		description: 'IDs of failed tasks: an array from an expression, or a comma-separated list',
		displayOptions: { show: { redriveBy: ['taskIds'] } },
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['deadLetter'], operation: ['redrive'] } },
	properties,
);

function taskIdsParameter(this: IExecuteFunctions, itemIndex: number): string[] {
	const value = this.getNodeParameter('taskIds', itemIndex) as unknown;
	const ids = (Array.isArray(value) ? value : String(value ?? '').split(','))
		.map((id) => String(id).trim())
		.filter((id) => id !== '');
	if (ids.length === 0) throw new NodeOperationError(this.getNode(), 'Task IDs are required', { itemIndex });
	return ids;
}

/**
 * Puts failed tasks back in line: same IDs, attempt numbers continue, a fresh attempt budget.
 * Outputs how many moved and their IDs.
 */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runPerItem.call(this, items, async (itemIndex) => {
		const selector: IDataObject = {};
		const redriveBy = this.getNodeParameter('redriveBy', itemIndex) as string;
		if (redriveBy === 'queue') selector.queue = queueNameParameter.call(this, 'queue', itemIndex);
		else if (redriveBy === 'signature' && this.getNode().typeVersion >= 1.1) Object.assign(selector, deadLetterGroupSelector.call(this, itemIndex));
		else if (redriveBy === 'signature') selector.signature = String(this.getNodeParameter('signature', itemIndex)).trim();
		else selector.ids = taskIdsParameter.call(this, itemIndex);
		if (selector.queue === '' || selector.signature === '') {
			throw new NodeOperationError(this.getNode(), redriveBy === 'queue' ? 'Queue is required' : 'Error Signature is required', {
				itemIndex,
			});
		}
		return await engineRequest(this, { method: 'POST', path: '/v1/dead-letters/redrive', body: selector, itemIndex });
	});
}
