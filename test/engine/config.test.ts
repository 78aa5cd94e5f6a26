import { describe, expect, it } from 'vitest';
import { ConfigError, helpText, loadConfig, parseFlags, SETTINGS } from '../../engine/src/config.js';

describe('configuration', () => {
	it('has the documented defaults', () => {
		const c = loadConfig({}, {}, '/srv/app');
		expect(c).toMatchObject({
			databaseUrl: undefined,
			host: '127.0.0.1',
			port: 5690,
			dataDir: '/srv/app/.task-engine',
			embeddedPgPort: 54329,
			logLevel: 'info',
			bodyLimitBytes: 1048576,
			payloadLimitBytes: 262144,
			resultLimitBytes: 16384,
			idempotencyWindowSeconds: 86400,
			autoCreateQueues: false,
			metricsAuth: true,
		});
		expect(Object.isFrozen(c)).toBe(true);
	});

	it('takes flags over environment variables', () => {
		const c = loadConfig({ PORT: '6000', API_KEYS: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb' }, parseFlags(['--port', '7000', '--log-level=debug']));
		expect(c.port).toBe(7000);
		expect(c.logLevel).toBe('debug');
		expect(c.apiKeys).toEqual(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
	});

	it.each([
		[{ PORT: 'abc' }, 'PORT', /integer from 0 to 65535/],
		[{ PORT: '70000' }, 'PORT', /integer/],
		[{ EMBEDDED_PG_PORT: '80' }, 'EMBEDDED_PG_PORT', /1024/],
		[{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of/],
		[{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /postgres/],
		[{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', /postgres/],
		[{ API_KEYS: 'short' }, 'API_KEYS', /16 characters/],
		[{ AUTO_CREATE_QUEUES: 'maybe' }, 'AUTO_CREATE_QUEUES', /true or false/],
		[{ DATABASE_SCHEMA: 'Bad-Schema' }, 'DATABASE_SCHEMA', /identifier/],
		[{ HOST: 'a b' }, 'HOST', /host/],
	])('rejects %j naming the variable', (env, variable, pattern) => {
		let error: unknown;
		try {
			loadConfig(env as Record<string, string>);
		} catch (e) {
			error = e;
		}
		expect(error).toBeInstanceOf(ConfigError);
		expect((error as ConfigError).variable).toBe(variable);
		expect((error as Error).message.startsWith(variable)).toBe(true);
		expect((error as Error).message).toMatch(pattern);
		expect((error as Error).message).not.toContain('\n');
	});

	it('rejects unknown flags and flags without a value', () => {
		expect(() => parseFlags(['--colour', 'blue'])).toThrow(/--colour is not an option/);
		expect(() => parseFlags(['--port'])).toThrow(/needs a value/);
		expect(() => parseFlags(['start'])).toThrow(/not an option/);
	});

	it('documents every setting in --help', () => {
		const text = helpText();
		for (const s of SETTINGS) expect(text).toContain(s.name);
	});
});
