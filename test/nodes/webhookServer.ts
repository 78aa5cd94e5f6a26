import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IDataObject } from 'n8n-workflow';
import type { TriggerHarness, WebhookUrls } from './harness.js';

/** One request n8n's webhook layer received for the trigger, and what it answered. */
export interface WebhookCall {
	mode: 'production' | 'test';
	headers: http.IncomingHttpHeaders;
	status: number;
	/** The headers of the answer, once it has been sent. */
	responseHeaders?: http.OutgoingHttpHeaders;
	/** The items the trigger handed to the workflow; undefined when it started none (401, 503). */
	output?: IDataObject[];
}

/**
 * Stands in for n8n's webhook server around the Task Trigger: real HTTP on loopback at n8n's
 * production (`/webhook/…`) and test (`/webhook-test/…`) paths, the raw body kept as n8n keeps it
 * (`req.rawBody`), an Express-style response, and `responseMode: 'lastNode'` for a one-node
 * workflow: 200 with the first output item, or 500 `Error in workflow` when `failWorkflow` says
 * the execution failed. As in n8n, headers the trigger set on the response stay on that answer.
 */
export async function startWebhookServer(options: { failWorkflow?: (output: IDataObject[]) => boolean } = {}) {
	let trigger: TriggerHarness | undefined;
	const calls: WebhookCall[] = [];
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			void (async () => {
				const path = req.url ?? '';
				const mode = path.startsWith('/webhook-test/') ? 'test' : 'production';
				if (trigger === undefined || path !== `/${mode === 'test' ? 'webhook-test' : 'webhook'}/${trigger.node.webhookId}/webhook`) {
					res.writeHead(404).end('{"message":"not registered"}');
					return;
				}
				const rawBody = Buffer.concat(chunks);
				let body: unknown = {};
				try {
					body = JSON.parse(rawBody.toString('utf8'));
				} catch {
					// n8n passes an unparsable body on as it is
				}
				const request = Object.assign(req, { rawBody, body, params: {}, query: {} });
				const response = Object.assign(res, {
					status(code: number) {
						res.statusCode = code;
						return response;
					},
					json(value: unknown) {
						res.setHeader('content-type', 'application/json');
						res.end(JSON.stringify(value));
						return response;
					},
					send(value: unknown) {
						res.end(typeof value === 'string' ? value : JSON.stringify(value));
						return response;
					},
				});
				const call: WebhookCall = { mode, headers: req.headers, status: 0 };
				calls.push(call);
				res.once('finish', () => (call.responseHeaders = res.getHeaders()));
				try {
					const result = await trigger.webhook(request, response, mode);
					if (result.noWebhookResponse) {
						// The trigger answered by itself: 401/503 and nothing runs, or (Finish "With a
						// Complete/Fail Step") 202 and, as in n8n, the workflow still runs on its data.
						call.status = res.statusCode;
						if (result.workflowData !== undefined) call.output = (result.workflowData[0] ?? []).map((item) => item.json);
						return;
					}
					call.output = (result.workflowData?.[0] ?? []).map((item) => item.json);
					if (options.failWorkflow?.(call.output)) {
						call.status = 500;
						res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"Error in workflow"}');
						return;
					}
					call.status = 200;
					res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(call.output[0] ?? {}));
				} catch (error) {
					call.status = 500;
					res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(error) }));
				}
			})();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	const urls: WebhookUrls = {
		webhookBaseUrl: `http://127.0.0.1:${port}/webhook`,
		webhookTestBaseUrl: `http://127.0.0.1:${port}/webhook-test`,
	};
	return {
		...urls,
		urls,
		calls,
		attach(harness: TriggerHarness) {
			trigger = harness;
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
