import { startTestEngine, TEST_API_KEY, type TestEngine } from '../helpers/engine.js';
import type { EngineCredentials } from './harness.js';

/** A real engine listening on loopback, reached by the nodes over HTTP like an n8n would. */
export interface NodeTestEngine extends TestEngine {
	baseUrl: string;
	credentials: EngineCredentials;
}

export async function startNodeTestEngine(env: Record<string, string> = {}): Promise<NodeTestEngine> {
	const testEngine = await startTestEngine(env);
	const baseUrl = await testEngine.engine.server.listen({ port: 0, host: '127.0.0.1' });
	return Object.assign(testEngine, {
		baseUrl,
		credentials: { baseUrl, apiKey: TEST_API_KEY },
	});
}

/** A resource locator value, as n8n stores it. */
export function byName(value: string) {
	return { __rl: true, mode: 'name', value };
}

export function byId(value: string) {
	return { __rl: true, mode: 'id', value };
}
