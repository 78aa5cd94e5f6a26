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
			description: 'URL of the Background Tasks engine, without the /v1 suffix',
			required: true,
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'The API key the engine was started with',
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
	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl}}',
			url: '/v1/queues',
			method: 'GET',
			qs: { limit: 1 },
		},
	};
}
