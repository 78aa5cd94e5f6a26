import type { INodeProperties } from 'n8n-workflow';

/** The batch an operation acts on, as Create returned it. */
export const batchIdProperty: INodeProperties = {
	displayName: 'Batch ID',
	name: 'batchId',
	type: 'string',
	required: true,
	default: '',
	placeholder: 'e.g. 0195b3c4-7d2e-7f00-8a1b-2c3d4e5f6a7b',
	description: 'ID of the batch, as returned when it was created',
};
