import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { jsonParameter } from '../../../shared/parameters';
import { postReport, runReport, taskSourceProperties } from './attemptReport';

const properties: INodeProperties[] = [
	{
		displayName:
			'Use after a Task Trigger whose Finish is "With a Complete/Fail Step": this step completes the task that started the execution, with a result. It also works while the engine waits for the workflow.',
		name: 'completeNotice',
		type: 'notice',
		default: '',
	},
	...taskSourceProperties('Complete'),
	{
		displayName: 'Result',
		name: 'resultSource',
		type: 'options',
		options: [
			{
				name: 'Input Item',
				value: 'inputItem',
				description: "The input item's JSON (the first item's, for the Task Trigger's task), as when the workflow ends",
			},
			{ name: 'Define Below', value: 'defineBelow', description: 'Write the result as JSON or an expression' },
			{ name: 'None', value: 'none', description: 'Complete without a result' },
		],
		default: 'inputItem',
		description: "What the engine keeps as the task's result (at most 16 KiB of JSON)",
	},
	{
		displayName: 'Result JSON',
		name: 'result',
		type: 'json',
		default: '{}',
		description: "Any JSON value, kept as the task's result",
		displayOptions: { show: { resultSource: ['defineBelow'] } },
	},
];

export const description = updateDisplayOptions({ show: { resource: ['task'], operation: ['complete'] } }, properties);

/** Completes the open attempt; outputs the task as the engine now has it. Repeating it changes nothing. */
export async function execute(this: IExecuteFunctions, items: INodeExecutionData[]): Promise<INodeExecutionData[]> {
	return await runReport.call(
		this,
		items,
		async (attempt, itemIndex) => {
			const source = this.getNodeParameter('resultSource', itemIndex) as string;
			const body: IDataObject = {};
			if (source === 'inputItem') body.result = items[itemIndex].json;
			else if (source === 'defineBelow') body.result = jsonParameter.call(this, 'result', 'Result JSON', itemIndex) as IDataObject;
			return await postReport.call(this, 'complete', attempt, body, itemIndex);
		},
		'task',
	);
}
