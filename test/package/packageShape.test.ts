// What n8n (and its community-package scanner) requires of the root package, checked through the
// package's public surfaces: package.json and the credential/node classes n8n loads.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { BackgroundTasksApi } from '../../credentials/BackgroundTasksApi.credentials';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface PackageJson {
	name: string;
	keywords?: string[];
	license?: string;
	files?: string[];
	dependencies?: Record<string, string>;
	peerDependencies?: Record<string, string>;
	n8n: { n8nNodesApiVersion: number; credentials?: string[]; nodes?: string[] };
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

const registered = [
	...(pkg.n8n.credentials ?? []).map((path) => ({ kind: 'credentials', path })),
	...(pkg.n8n.nodes ?? []).map((path) => ({ kind: 'node', path })),
];

/** `dist/credentials/X.credentials.js` → `credentials/X.credentials.ts`, and the class name `X`. */
function sourceOf(distPath: string) {
	const relative = distPath.replace(/^dist\//, '').replace(/\.js$/, '.ts');
	const className = relative.split('/').at(-1)!.replace(/\.(credentials|node)\.ts$/, '');
	return { relative, className };
}

describe('root package.json', () => {
	it('has no runtime dependencies', () => {
		expect(pkg.dependencies).toBeUndefined();
	});

	it('peers only on n8n-workflow', () => {
		expect(pkg.peerDependencies).toEqual({ 'n8n-workflow': '*' });
	});

	it('publishes only dist/', () => {
		expect(pkg.files).toEqual(['dist']);
	});

	it('is discoverable as a community node package', () => {
		expect(pkg.name).toMatch(/^(@[^/]+\/)?n8n-nodes-/);
		expect(pkg.keywords).toContain('n8n-community-node-package');
		expect(pkg.license).toBe('MIT');
		expect(pkg.n8n.n8nNodesApiVersion).toBe(1);
	});

	it('registers the Background Tasks API credential', () => {
		expect(pkg.n8n.credentials).toContain('dist/credentials/BackgroundTasksApi.credentials.js');
	});
});

describe.each(registered)('registered $kind $path', ({ kind, path }) => {
	const { relative, className } = sourceOf(path);

	it('is compiled output of a TypeScript source in the repo', () => {
		expect(path).toMatch(new RegExp(`^dist/.+\\.${kind}\\.js$`));
		expect(existsSync(join(ROOT, relative)), `${relative} should exist`).toBe(true);
	});

	// n8n's loader takes the class whose name matches the file name.
	it('exports a class named after its file', async () => {
		const module = (await import(join(ROOT, relative))) as Record<string, unknown>;
		expect(typeof module[className]).toBe('function');
	});
});

describe('Background Tasks API credential', () => {
	const credential = new BackgroundTasksApi();
	const property = (name: string) => credential.properties.find((p) => p.name === name);

	it('is named as the nodes reference it', () => {
		expect(credential.name).toBe('backgroundTasksApi');
		expect(credential.displayName).toBe('Background Tasks API');
	});

	it('keeps the API key in a required password field', () => {
		expect(property('apiKey')).toMatchObject({
			type: 'string',
			typeOptions: { password: true },
			required: true,
		});
	});

	it('defaults the base URL to a local engine', () => {
		expect(property('baseUrl')).toMatchObject({ type: 'string', default: 'http://127.0.0.1:5690' });
	});

	it('sends the API key as a bearer token', () => {
		expect(credential.authenticate).toEqual({
			type: 'generic',
			properties: { headers: { Authorization: '=Bearer {{$credentials.apiKey}}' } },
		});
	});

	// Liveness (/v1/health…) answers without a key, so testing against it would accept any key.
	it('tests against an authenticated engine route', () => {
		const { request } = credential.test;
		expect(request.baseURL).toBe('={{$credentials.baseUrl}}');
		expect(request.method ?? 'GET').toBe('GET');
		expect(request.url).toMatch(/^\/v1\//);
		expect(request.url).not.toMatch(/^\/v1\/health/);
		expect(request.url).toBe('/v1/queues');
		expect(request.qs).toEqual({ limit: 1 });
	});
});
