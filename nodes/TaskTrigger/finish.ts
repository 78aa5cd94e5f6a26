import type { INodeProperties } from 'n8n-workflow';

/**
 * When a task counts as done (docs/async-completion.md). By default the engine waits for the workflow — the
 * attempt lasts at most the task's `timeoutSeconds` (60 s by default), so a workflow that runs
 * longer is timed out while it still runs, and the retry starts a second copy of it. With
 * "With a Complete/Fail Step" the trigger answers `202` at once (with its confirmation marker) and
 * the attempt stays open until an Enqueue Task step reports Complete or Fail for it, or until its
 * deadline passes (`asyncTimeoutSeconds`, 1 hour by default; a Heartbeat step moves it).
 *
 * Only task deliveries are answered early: batch and dead-letter events are no task to report on,
 * so they are always answered when the workflow ends. A saved trigger without the parameter reads
 * the default, today's behaviour: no node version is needed.
 */

/** Parameter values (stable: saved in workflows). */
export const FINISH_WHEN_WORKFLOW_ENDS = 'workflowEnd';
export const FINISH_WITH_REPORT_STEP = 'reportStep';

const finish: INodeProperties = {
	displayName: 'Finish',
	name: 'finish',
	type: 'options',
	options: [
		{
			name: 'When the Workflow Ends',
			value: FINISH_WHEN_WORKFLOW_ENDS,
			description:
				"The engine waits for the workflow: its last node's first item completes the task, a failed execution is retried. For work that fits in the task's timeout (60 s by default).",
		},
		{
			name: 'With a Complete/Fail Step',
			value: FINISH_WITH_REPORT_STEP,
			description:
				'The engine is answered at once; an Enqueue Task step (Complete or Fail) reports the outcome later. For work that takes minutes or hours: LLM calls, slow APIs, Wait nodes.',
		},
	],
	default: FINISH_WHEN_WORKFLOW_ENDS,
	description: 'When a task counts as done. Batch and dead-letter events are always answered when the workflow ends.',
	displayOptions: { show: { events: ['task'] } },
};

const notices: INodeProperties[] = [
	{
		displayName:
			'The task is answered when the workflow finishes: if the workflow fails, the engine retries the task with backoff',
		name: 'notice',
		type: 'notice',
		default: '',
		displayOptions: { show: { finish: [FINISH_WHEN_WORKFLOW_ENDS] } },
	},
	{
		displayName:
			'Each task is answered at once and stays active until an Enqueue Task step reports it: <b>Complete</b> (with a result) or <b>Fail</b> (retry by policy, never, or after a delay). Add <b>Heartbeat</b> steps in long runs: they show progress and move the deadline (1 hour unless the queue or task sets another). A run that stops without reporting is retried only when the deadline passes, so report failures too (e.g. from the error output).',
		name: 'reportNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { finish: [FINISH_WITH_REPORT_STEP] } },
	},
];

/** The Finish option and the notice that explains the chosen one, for the Task Trigger's properties. */
export const finishProperties = { finish, notices };
