import type {
	IDataObject,
	IHookFunctions,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { queueLocator, searchQueues } from '../shared/queueLocator';
import { CONFIRM_HEADER, confirmationHeader, deliveryAttempt } from './confirmation';
import { deliveryKindOf, deliveryOutput } from './deliveryOutput';
import { finishProperties, FINISH_WHEN_WORKFLOW_ENDS, FINISH_WITH_REPORT_STEP } from './finish';
import { handlerExists, handlerModeOf, registerHandler, registrationOf, removeHandler } from './handlerRegistration';
import { queueSettingsProperty } from './queueSettings';
import { signatureHeadersOf, verifySignature } from './signature';

/**
 * Task Trigger: makes the workflow a worker of a queue. Its webhook is registered as the queue's
 * handler (with `confirm`); every delivery's signature and timestamp are checked before the
 * workflow starts. By default the engine gets its answer when the workflow finishes — a failed
 * execution is a 500, so the engine retries the task with backoff; with Finish "With a
 * Complete/Fail Step" a task is answered 202 at once and an Enqueue Task step reports its outcome
 * (finish.ts). Every answer to a verified delivery carries the confirmation marker, which the
 * engine requires before it counts a 2xx (the 202 included) as its handler's answer.
 */
export class TaskTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Task Trigger',
		name: 'taskTrigger',
		icon: { light: 'file:taskTrigger.svg', dark: 'file:taskTrigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		// n8n hands `$parameter` a resource locator's value (not the {mode, value} object) in expressions.
		subtitle: '={{$parameter["queue"] ? "queue: " + $parameter["queue"] : ""}}',
		description: 'Starts the workflow for each background task of a queue, and retries it when the workflow fails',
		// n8n's generic texts ("Go to Task and create an event", "listen for events from Task") do
		// not fit: the trigger registers itself as the queue's handler, and tasks come to it signed.
		eventTriggerDescription: 'Waiting for a task: enqueue one to the queue (Enqueue Task node or POST /v1/tasks)',
		activationMessage:
			'The Task Trigger is now the handler of its queue: the engine delivers each task to it, signed, and retries a task whose execution fails.',
		triggerPanel: {
			header: 'Receive a task from the queue',
			executionsHelp: {
				inactive:
					"<b>While building your workflow</b>, click 'Execute step': the trigger registers itself as a test handler of the queue and takes the next task enqueued to it (one task, or 120 seconds, whichever comes first). Enqueue one with the Enqueue Task node or POST /v1/tasks. The execution shows up in this editor.<br /><br /><b>Once you're happy with your workflow</b>, publish it. The trigger then registers as the queue's handler and the engine delivers every task to it, signed; a failed execution is retried with backoff. These executions show up in the <a data-key=\"executions\">executions list</a>, but not in the editor.",
				active:
					"<b>While building your workflow</b>, click 'Execute step': the trigger takes the next task enqueued to the queue (one task, or 120 seconds) and the execution shows up in this editor.<br /><br /><b>Your workflow is published</b>, so the trigger is the queue's handler: the engine delivers every task to it, signed, and retries a failed execution with backoff. These executions show up in the <a data-key=\"executions\">executions list</a>, but not in the editor.",
			},
			activationHint: {
				inactive: 'Once you have finished building your workflow, publish it: the trigger then registers as the queue\'s handler and runs for every task (those executions will not show up here).',
				active: 'The workflow is published: every task of the queue also runs it (those executions will not show up here).',
			},
		},
		defaults: { name: 'Task Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'backgroundTasksApi', required: true }],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				// The engine waits for the workflow: success answers 200 with the last node's first
				// item (kept as the task's result), a failed execution answers 500 and is retried.
				responseMode: 'lastNode',
				path: 'webhook',
				// The trigger registers this URL with the engine itself; the user never calls it.
				ndvHideUrl: true,
			},
		],
		properties: [
			...finishProperties.notices,
			queueLocator({ description: 'Queue whose tasks start this workflow' }),
			{
				displayName: 'Receive',
				name: 'events',
				type: 'multiOptions',
				options: [
					{
						name: 'Batch Events',
						value: 'batch',
						description: 'The counters of a batch of the queue when it finishes',
					},
					{
						name: 'Dead Letters',
						value: 'dead_letter',
						description:
							'A task of the queue that failed for good (attempts used up, or failed with "never retry"), with its attempts: alert someone, open a ticket',
					},
					{ name: 'Tasks', value: 'task', description: 'Every task of the queue, including batch chunks' },
				],
				required: true,
				default: ['task'],
			},
			finishProperties.finish,
			{
				displayName: 'Create Queue If Missing',
				name: 'createQueueIfMissing',
				type: 'boolean',
				default: true,
				description: 'Whether to create the queue when the workflow is activated and it does not exist (with default settings, or the Queue Settings below)',
			},
			queueSettingsProperty,
		],
	};

	methods = { listSearch: { searchQueues } };

	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return await handlerExists.call(this);
			},
			async create(this: IHookFunctions): Promise<boolean> {
				return await registerHandler.call(this);
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return await removeHandler.call(this);
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const request = this.getRequestObject();
		const response = this.getResponseObject();
		const registration = registrationOf(this.getWorkflowStaticData('node'), handlerModeOf(this.getMode()));
		if (registration === undefined) {
			// No secret yet: n8n serves the webhook as soon as it is stored, but saves the node's
			// static data only after every trigger's create hook has finished, and the engine may
			// deliver in between (on every activation with tasks waiting). Nothing can be verified,
			// so nothing runs; a 503 with Retry-After makes the engine try again in a second. (A
			// secret that is present but does not verify stays a 401, below.)
			response
				.status(503)
				.setHeader('Retry-After', '1')
				// The engine gives such an attempt back (uncharged) while the handler is newly registered.
				.setHeader('x-task-handler-starting', 'true')
				.json({ error: { code: 'not_ready', message: 'The Task Trigger is still being activated: retry shortly' } });
			return { noWebhookResponse: true };
		}
		const headers = signatureHeadersOf(request.headers);
		const verdict = verifySignature([registration.secret], headers, request.rawBody, Math.floor(Date.now() / 1000));
		if (!verdict.ok) {
			// Answered here, without starting the workflow. A 4xx other than 404/408/410/425/429
			// makes the engine fail the delivery at once (a dead letter, redrivable), not retry it.
			response.status(401).json({ error: { code: 'invalid_signature', message: `Delivery rejected: ${verdict.reason}` } });
			return { noWebhookResponse: true };
		}
		// Parsed from the verified bytes, not from n8n's parsed body, so what runs is what was signed.
		let body: IDataObject;
		try {
			body = JSON.parse(request.rawBody.toString('utf8')) as IDataObject;
		} catch {
			response.status(400).json({ error: { code: 'invalid_body', message: 'The delivery body is not JSON' } });
			return { noWebhookResponse: true };
		}
		// The marker goes on the response now and stays on whatever n8n answers once the workflow
		// has run (responseMode 'lastNode' keeps headers set here): 200 with the last node's item,
		// or 500 when the execution failed — which the engine retries whatever the marker says.
		const attempt = deliveryAttempt(body.attempt, request.headers['x-task-attempt']);
		const marker = confirmationHeader(verdict.secret, headers.id as string, attempt, headers.timestamp as string);
		if (marker !== undefined) response.setHeader(CONFIRM_HEADER, marker);
		const workflowData = [this.helpers.returnJsonArray(deliveryOutput(body))];
		if (this.getNodeParameter('finish', FINISH_WHEN_WORKFLOW_ENDS) === FINISH_WITH_REPORT_STEP && deliveryKindOf(body) === 'task') {
			// Answered now, marked like any other answer: the attempt stays open until a Complete or
			// Fail step reports it (or its deadline passes). n8n still runs the workflow when the
			// trigger has answered by itself (`noWebhookResponse` with `workflowData`), and sends
			// nothing more when it ends. Events are not tasks to report on: they keep the default.
			response.status(202).json({ accepted: true, finish: 'reportStep' });
			return { noWebhookResponse: true, workflowData };
		}
		return { workflowData };
	}
}
