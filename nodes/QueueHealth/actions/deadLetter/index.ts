import type { INodeProperties } from 'n8n-workflow';

import type { Operation } from '../../../shared/router';
import * as getAll from './getAll.operation';
import * as redrive from './redrive.operation';

export const operations: Record<string, Operation> = { getAll, redrive };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['deadLetter'] } },
		options: [
			{
				name: 'Get Many',
				value: 'getAll',
				description: 'List failed tasks grouped by error',
				action: 'Get many dead letters',
			},
			{
				name: 'Redrive',
				value: 'redrive',
				description: 'Put failed tasks back in line with a fresh attempt budget',
				action: 'Redrive dead letters',
			},
		],
		default: 'getAll',
	},
	...getAll.description,
	...redrive.description,
];
