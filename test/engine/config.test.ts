import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, helpText, loadConfig, parseFlags, SETTINGS } from '../../engine/src/config.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'config-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ConfigError `load` throws (fails when it throws none). */
function configError(load: () => unknown): ConfigError {
	try {
		load();
	} catch (e) {
		if (e instanceof ConfigError) return e;
		throw e;
	}
	throw new Error('no ConfigError');
}

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
			embeddedPgSharedDir: '/var/lib/task-engine-postgres',
			apiKeys: [],
			warnings: [],
		});
		expect(c.targetPolicy.restricted).toBe(false);
		expect(Object.isFrozen(c)).toBe(true);
	});

	it('takes flags over environment variables', () => {
		const c = loadConfig({ PORT: '6000', API_KEYS: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb' }, parseFlags(['--port', '7000', '--log-level=debug']));
		expect(c.port).toBe(7000);
		expect(c.logLevel).toBe('debug');
		expect(c.apiKeys).toEqual([
			{ key: 'aaaaaaaaaaaaaaaa', scope: 'admin' },
			{ key: 'bbbbbbbbbbbbbbbb', scope: 'admin' },
		]);
	});

	it('reads key[:scope] entries; admin when the scope is left out', () => {
		const c = loadConfig({ API_KEYS: 'reader-key-0123456789:read, writer-key-0123456789:write,admin-key-0123456789:admin , plain-key-0123456789' });
		expect(c.apiKeys).toEqual([
			{ key: 'reader-key-0123456789', scope: 'read' },
			{ key: 'writer-key-0123456789', scope: 'write' },
			{ key: 'admin-key-0123456789', scope: 'admin' },
			{ key: 'plain-key-0123456789', scope: 'admin' },
		]);
	});

	it.each([
		['unknown scope', 'secret-key-0123456789:owner', /entry 1 ends in a ":" suffix that is not a scope \(admin, write, read\)/],
		['a colon inside the key', 'secret:key-0123456789abc', /entry 1 ends in a ":" suffix/],
		['a short key', 'secret-key-0123456789, short:read', /16 characters long \(entry 2 is not\)/],
		['a repeated key', 'secret-key-0123456789:read,secret-key-0123456789:write', /entry 2 repeats an earlier key/],
		['a key that is no header text', 'secret-key-0123456789é', /printable ASCII/],
		['no key at all', ' , ,', /holds no key/],
	])('refuses API_KEYS with %s, without echoing the key', (_what, value, pattern) => {
		const error = configError(() => loadConfig({ API_KEYS: value }));
		expect(error.variable).toBe('API_KEYS');
		expect(error.message).toMatch(pattern);
		expect(error.message).not.toMatch(/secret/);
	});

	it('reads API_KEYS_FILE and DATABASE_URL_FILE (relative to the working folder), not both forms at once', () => {
		writeFileSync(path.join(tmp, 'keys'), '# rotated 2026-11, old key removed\nreader-key-0123456789:read\nwriter-key-0123456789:write, admin-key-0123456789\n\n');
		writeFileSync(path.join(tmp, 'db'), 'postgres://engine:s3cret@db.internal:5432/tasks\n');
		const c = loadConfig({ API_KEYS_FILE: 'keys', DATABASE_URL_FILE: path.join(tmp, 'db') }, {}, tmp);
		expect(c.apiKeys.map((k) => k.scope)).toEqual(['read', 'write', 'admin']);
		expect(c.databaseUrl).toBe('postgres://engine:s3cret@db.internal:5432/tasks');
		expect(c.warnings).toEqual([]);

		expect(configError(() => loadConfig({ API_KEYS: 'admin-key-0123456789', API_KEYS_FILE: 'keys' }, {}, tmp)).message).toBe(
			'API_KEYS and API_KEYS_FILE are both set; keep one',
		);
		const missing = configError(() => loadConfig({ DATABASE_URL_FILE: 'nope' }, {}, tmp));
		expect(missing.variable).toBe('DATABASE_URL_FILE');
		expect(missing.message).toBe(`DATABASE_URL_FILE cannot be read (ENOENT: ${path.join(tmp, 'nope')})`);
		writeFileSync(path.join(tmp, 'empty'), '\n');
		expect(configError(() => loadConfig({ API_KEYS_FILE: 'empty' }, {}, tmp)).message).toMatch(/^API_KEYS_FILE names an empty file/);
		writeFileSync(path.join(tmp, 'comments'), '# nothing yet\n');
		expect(configError(() => loadConfig({ API_KEYS_FILE: 'comments' }, {}, tmp)).message).toMatch(/^API_KEYS holds no key/);
	});

	it('warns when secrets come as command-line flags', () => {
		const c = loadConfig({}, parseFlags(['--api-keys', 'admin-key-0123456789', '--database-url', 'postgres://u:pw@127.0.0.1/db']));
		expect(c.warnings).toEqual([
			'DATABASE_URL was given as --database-url: every user of this machine can read command lines (ps); use DATABASE_URL_FILE or the environment',
			'API_KEYS was given as --api-keys: every user of this machine can read command lines (ps); use API_KEYS_FILE or the environment',
		]);
		// Without a password the URL is no secret; from the environment nothing is on the command line.
		expect(loadConfig({ API_KEYS: 'admin-key-0123456789' }, parseFlags(['--database-url', 'postgres://u@127.0.0.1/db'])).warnings).toEqual([]);
	});

	it('refuses URL_HOST_ALLOW_LIST with a line naming TARGET_ALLOW', () => {
		expect(configError(() => loadConfig({ URL_HOST_ALLOW_LIST: 'localhost' })).message).toBe(
			'URL_HOST_ALLOW_LIST was replaced by TARGET_ALLOW (host names, *.suffix patterns and CIDRs, checked on the address connected to): rename it',
		);
		expect(() => parseFlags(['--url-host-allow-list', 'localhost'])).toThrow(/^--url-host-allow-list was replaced by --target-allow/);
	});

	it('reads TARGET_ALLOW and names a bad entry', () => {
		const policy = loadConfig({ TARGET_ALLOW: 'n8n, *.example.com, 10.0.0.0/8, ::1, 192.168.1.20' }).targetPolicy;
		expect(policy.entries).toEqual(['n8n', '*.example.com', '10.0.0.0/8', '::1', '192.168.1.20']);
		for (const [value, pattern] of [
			['n8n, foo bar', /^TARGET_ALLOW entry "foo bar" is not a host name, a \*\.suffix pattern or a CIDR/],
			['10.0.0.0/33', /prefix length that is not 0–32/],
			['*.', /entry "\*\." is not a host name/],
			['a*b.example.com', /is not a host name/],
			['169.254.0.0/16', /entry "169.254.0.0\/16" can never be allowed: a link-local address/],
			['169.254.169.254', /can never be allowed/],
			['fe80::/64', /can never be allowed/],
			['metadata.google.internal', /can never be allowed: it names a cloud metadata service/],
		] as const) {
			const error = configError(() => loadConfig({ TARGET_ALLOW: value }));
			expect(error.variable, value).toBe('TARGET_ALLOW');
			expect(error.message, value).toMatch(pattern);
		}
	});

	it('wants an absolute EMBEDDED_PG_SHARED_DIR of its own', () => {
		expect(loadConfig({ EMBEDDED_PG_SHARED_DIR: '/srv/pg/' }).embeddedPgSharedDir).toBe('/srv/pg');
		expect(configError(() => loadConfig({ EMBEDDED_PG_SHARED_DIR: 'pg' })).variable).toBe('EMBEDDED_PG_SHARED_DIR');
		expect(configError(() => loadConfig({ EMBEDDED_PG_SHARED_DIR: '/' })).variable).toBe('EMBEDDED_PG_SHARED_DIR');
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
