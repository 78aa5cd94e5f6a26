import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	Icon,
	INodeProperties,
} from 'n8n-workflow';

/**
 * Connects the Background Tasks nodes to a running engine (`task-engine start`).
 * Every request carries the engine's API key as a bearer token.
 */
export class BackgroundTasksApi implements ICredentialType {
	name = 'backgroundTasksApi';

	displayName = 'Background Tasks API';

	documentationUrl =
		'https://github.com/background-tasks/n8n-nodes-background-tasks?tab=readme-ov-file#credentials';

	icon: Icon = {
		light: 'file:backgroundTasks.svg',
		dark: 'file:backgroundTasks.dark.svg',
	};

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'http://127.0.0.1:5690',
			placeholder: 'http://127.0.0.1:5690',
			description:
				'URL of the running Background Tasks engine (task-engine start), without /v1. It must be reachable from n8n: if the test says ECONNREFUSED, the engine is not running or not at this address (inside Docker, 127.0.0.1 is the n8n container itself).',
			required: true,
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description:
				'One of the keys in the engine\'s API_KEYS (or the key it generated and printed on first start). A key with scope "write" is all the nodes need.',
			required: true,
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=Bearer {{$credentials.apiKey}}',
			},
		},
	};

	// An authenticated route, so a wrong key fails the test (401) instead of passing on liveness.
	// n8n shows a matching rule's message instead of the bare status text ("Unauthorized"). A
	// connection that fails before any answer (ECONNREFUSED, ENOTFOUND) is reported by n8n with the
	// error code alone, which no rule can change: the Base URL's description covers that case.
	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl}}',
			url: '/v1/queues',
			method: 'GET',
			qs: { limit: 1 },
		},
		rules: [
			{
				type: 'responseCode',
				properties: {
					value: 401,
					message:
						'The engine does not know this API key. Use one of the keys in the engine\'s API_KEYS (or API_KEYS_FILE), without "Bearer ", or the generated key the engine printed on its first start',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 403,
					message:
						'This key may not list queues (403): check that it is one of the engine\'s API_KEYS with a scope (read, write or admin; the nodes need write, e.g. API_KEYS=yourkey:write), and that no proxy in front of the engine refuses it',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 404,
					message:
						'Something answered at the Base URL, but not the Background Tasks engine: check the Base URL (host and port of task-engine, without /v1)',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 502,
					message: 'A proxy answered instead of the engine: check that the Background Tasks engine is running behind it',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 503,
					message: 'The engine is not ready (starting, or its database is unreachable): check the engine\'s log and try again',
				},
			},
		],
	};
}
