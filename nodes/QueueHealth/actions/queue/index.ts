import type { INodeProperties } from 'n8n-workflow';

import type { Operation } from '../../../shared/router';
import * as getHealth from './getHealth.operation';

export const operations: Record<string, Operation> = { getHealth };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['queue'] } },
		options: [
			{
				name: 'Get Health',
				value: 'getHealth',
				description: 'Get the health figures and status of one or all queues',
				action: 'Get the health of queues',
			},
		],
		default: 'getHealth',
	},
	...getHealth.description,
];
