import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { asNodeError, errorItem, pairedWithAll } from '../../../shared/items';
import { pathSegment, requiredString } from '../../../shared/parameters';
import { engineRequest, hasEngineCode } from '../../../shared/transport';

/**
 * Reports on an open attempt (docs/async-completion.md): Complete, Fail and Heartbeat post to
 * `/v1/tasks/{id}/attempts/{n}/{kind}`. Reports are keyed by attempt number, so a workflow that
 * outlived its attempt (deadline passed, task retried) can never settle the newer one: the engine
 * answers 409 `attempt_closed`.
 *
 * The task is, by default, the one whose delivery started this execution: the Task Trigger's
 * output item holds it under `task` (`id`, `attempt`). It is found among this node's parent nodes
 * as the Task Trigger that ran in this execution (an execution has one trigger), so the common case
 * needs no expression and survives renaming the trigger. That mode reports once for the whole input
 * — there is one task, however many items the workflow made of it. "By ID" reports once per item.
 */

export type ReportKind = 'complete' | 'fail' | 'heartbeat';

/** The attempt a report is for. */
export interface AttemptRef {
	taskId: string;
	attempt: number;
}

const TASK_TRIGGER_TYPE_SUFFIX = '.taskTrigger';

/** The "Task" choice and the ID fields behind "By ID", shared by the three report operations. */
export function taskSourceProperties(verb: string): INodeProperties[] {
	return [
		{
			displayName: 'Task',
			name: 'taskSource',
			type: 'options',
			options: [
				{
					name: 'From the Task Trigger',
					value: 'trigger',
					description: `${verb} the task whose delivery started this execution, with the task ID and attempt its Task Trigger output`,
				},
				{
					name: 'By ID',
					value: 'byId',
					description: `${verb} the task and attempt given below, once per input item`,
				},
			],
			default: 'trigger',
		},
		{
			displayName: 'Task ID',
			name: 'taskId',
			type: 'string',
			required: true,
			default: '',
			placeholder: 'e.g. 0195b3c4-7d2e-7f00-8a1b-2c3d4e5f6a7b',
			description: 'ID of the task, as a Task Trigger outputs it under "task"',
			displayOptions: { show: { taskSource: ['byId'] } },
		},
		{
			displayName: 'Attempt',
			name: 'attempt',
			type: 'number',
			required: true,
			typeOptions: { minValue: 1 },
			default: 1,
			description:
				'Number of the attempt the report is for (a Task Trigger outputs it as task.attempt). A report for an attempt that is no longer open changes nothing.',
			displayOptions: { show: { taskSource: ['byId'] } },
		},
	];
}

/** What a report operation outputs: the task as the engine answered it, or its input items as they came. */
export type ReportOutput = 'task' | 'inputItems';

/**
 * Runs `report` for the trigger's task once or, "By ID", once per item, honouring "Continue On
 * Fail". Outputs the task the engine answered (once, paired with every input item, or once per
 * item) or the input items themselves, binary data included (Heartbeat sits between steps).
 */
export async function runReport(
	this: IExecuteFunctions,
	items: INodeExecutionData[],
	report: (attempt: AttemptRef, itemIndex: number) => Promise<IDataObject>,
	output: ReportOutput,
): Promise<INodeExecutionData[]> {
	const passedThrough = (itemIndex: number): INodeExecutionData => ({ ...items[itemIndex], pairedItem: { item: itemIndex } });
	if (this.getNodeParameter('taskSource', 0) === 'byId') {
		const result: INodeExecutionData[] = [];
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				const task = await report(attemptById.call(this, itemIndex), itemIndex);
				result.push(output === 'task' ? { json: task, pairedItem: { item: itemIndex } } : passedThrough(itemIndex));
			} catch (error) {
				const nodeError = asNodeError(this.getNode(), error, itemIndex);
				if (!this.continueOnFail()) throw nodeError;
				result.push(errorItem(nodeError, { item: itemIndex }));
			}
		}
		return result;
	}
	const pairedItem = pairedWithAll(items);
	try {
		const task = await report(triggerAttempt.call(this), 0);
		return output === 'task' ? [{ json: task, pairedItem }] : items.map((_, itemIndex) => passedThrough(itemIndex));
	} catch (error) {
		const nodeError = asNodeError(this.getNode(), error, 0);
		if (!this.continueOnFail()) throw nodeError;
		return [errorItem(nodeError, pairedItem)];
	}
}

/** POSTs one report; a closed attempt's 409 says what it means for the running workflow. */
export async function postReport(
	this: IExecuteFunctions,
	kind: ReportKind,
	{ taskId, attempt }: AttemptRef,
	body: IDataObject,
	itemIndex: number,
): Promise<IDataObject> {
	try {
		return await engineRequest(this, {
			method: 'POST',
			path: `/v1/tasks/${pathSegment(taskId)}/attempts/${attempt}/${kind}`,
			body,
			itemIndex,
		});
	} catch (error) {
		const nodeError = asNodeError(this.getNode(), error, itemIndex);
		if (hasEngineCode(error, 'attempt_closed')) {
			nodeError.description = [
				`Attempt ${attempt} of task ${taskId} is no longer open: it was already reported, or its deadline passed and the task went on (a retry may be running). Stop this run: its outcome no longer counts. Heartbeat steps keep a long run's attempt open.`,
				nodeError.description,
			]
				.filter(Boolean)
				.join('\n');
		}
		throw nodeError;
	}
}

function attemptById(this: IExecuteFunctions, itemIndex: number): AttemptRef {
	const taskId = requiredString.call(this, 'taskId', 'Task ID', itemIndex);
	const attempt = Number(this.getNodeParameter('attempt', itemIndex));
	if (!Number.isSafeInteger(attempt) || attempt < 1) {
		throw new NodeOperationError(this.getNode(), 'Attempt must be a whole number of at least 1', { itemIndex });
	}
	return { taskId, attempt };
}

/** The task and attempt of the Task Trigger that started this execution. */
function triggerAttempt(this: IExecuteFunctions): AttemptRef {
	const node = this.getNode();
	const triggers = this.getParentNodes(node.name).filter((parent) => parent.type.endsWith(TASK_TRIGGER_TYPE_SUFFIX) && !parent.disabled);
	const proxy = this.getWorkflowDataProxy(0);
	for (const trigger of triggers) {
		const reference = proxy.$(trigger.name) as { isExecuted: boolean; first: () => unknown };
		if (!reference.isExecuted) continue;
		// `first()` gives the item, or only its JSON in workflows with binary mode "combined".
		const first = reference.first() as { json?: IDataObject } | IDataObject | undefined;
		const json = (this.getWorkflowSettings().binaryMode === 'combined' ? first : (first as { json?: IDataObject })?.json) as IDataObject | undefined;
		const task = json?.task as IDataObject | undefined;
		if (typeof task?.id === 'string' && typeof task.attempt === 'number') return { taskId: task.id, attempt: task.attempt };
		throw new NodeOperationError(node, `The Task Trigger "${trigger.name}" did not start this execution with a task`, {
			description:
				'It received an event (a batch event or a dead letter), which has no open attempt to report on. Reports are for tasks; to act on a failed task, use the Get, Retry or Enqueue operations.',
		});
	}
	throw new NodeOperationError(node, 'No Task Trigger started this execution', {
		description:
			'Complete, Fail and Heartbeat report on the task whose delivery started the execution, found through the Task Trigger before this node. Connect this node after the Task Trigger, or set Task to "By ID" and give the task ID and attempt (e.g. {{ $json.task.id }} and {{ $json.task.attempt }}).',
	});
}
