import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetPolicy, TargetRefusedError } from '../../engine/src/delivery/targetPolicy.js';
import { checkTargetUrl } from '../../engine/src/delivery/targetUrl.js';
import { createDeliveryClient, type DeliveryOutcome } from '../../engine/src/delivery/httpDelivery.js';
import { DomainError } from '../../engine/src/errors.js';
import { loopbackOnly } from '../helpers/loopbackOnly.js';

/**
 * The target policy (README, "Security"). No test here lets a connection to a refused address leave the
 * machine: names resolve through an injected resolver (never /etc/hosts or real DNS), the only
 * real server listens on 127.0.0.1, and a loopback-only guard around every socket would stop — and
 * report — any connection the policy let through by mistake.
 */

/** What {@link checkTargetUrl} says about `url`: the accepted URL, or the error's code and message. */
function check(url: string, policy: TargetPolicy, field = 'url'): string | { code: string; message: string; field: string } {
	try {
		return checkTargetUrl(url, field, policy);
	} catch (e) {
		if (!(e instanceof DomainError)) throw e;
		return { code: e.code, message: e.message, field: e.details[0]?.field };
	}
}

/** A resolver from a fixed table, counting its calls; unknown names fail like DNS does. */
function fakeResolver(table: Record<string, string[] | (() => string[])>) {
	const calls: string[] = [];
	const resolve = ((hostname: string, options: { all?: boolean }, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
		calls.push(hostname);
		const entry = table[hostname];
		const answers = typeof entry === 'function' ? entry() : entry;
		setImmediate(() => {
			if (!answers) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
			const list = answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
			if (options.all) callback(null, list);
			else callback(null, list[0].address, list[0].family);
		});
	}) as unknown as LookupFunction;
	return { resolve, calls };
}

const unrestricted = TargetPolicy.unrestricted;

describe('target policy: the check at enqueue and registration (no DNS)', () => {
	it.each([
		['http://169.254.169.254/latest/meta-data/', 'link-local'],
		['http://169.254.170.2/v2/credentials', 'link-local'],
		['http://169.254.0.1:8080/', 'link-local'],
		['http://0xa9fea9fe/', 'link-local'], // hexadecimal IPv4
		['http://2852039166/', 'link-local'], // decimal IPv4
		['http://0251.0376.0251.0376/', 'link-local'], // octal IPv4
		['http://169.254.169.254./', 'link-local'], // trailing dot
		['http://[::ffff:169.254.169.254]/', 'link-local'], // IPv4-mapped
		['http://[::ffff:a9fe:a9fe]/', 'link-local'],
		['http://[::169.254.169.254]/', 'link-local'], // IPv4-compatible
		['http://[64:ff9b::169.254.169.254]/', 'link-local'], // NAT64
		['http://[2002:a9fe:a9fe::1]/', 'link-local'], // 6to4
		['http://[fe80::1]/', 'link-local'],
		['http://[FE80::a:b:c:d]:80/', 'link-local'],
		['http://[febf::1]/', 'link-local'], // still inside fe80::/10
		['http://[fd00:ec2::254]/latest/meta-data/', 'cloud metadata address'],
		['http://100.100.100.200/latest/meta-data/', 'cloud metadata address'],
		['http://metadata/computeMetadata/v1/', 'cloud metadata service'],
		['http://metadata.google.internal/computeMetadata/v1/', 'cloud metadata service'],
		['http://METADATA.Google.Internal./computeMetadata/v1/', 'cloud metadata service'],
		['https://metadata:443/', 'cloud metadata service'],
	])('always refuses %s', (url, why) => {
		const result = check(url, unrestricted);
		expect(result).toMatchObject({ code: 'target_refused', field: 'url' });
		expect((result as { message: string }).message).toMatch(/^url is refused: /);
		expect((result as { message: string }).message).toContain(why);
		// TARGET_ALLOW cannot lift it, not even "anywhere".
		expect(check(url, TargetPolicy.parse('0.0.0.0/0,::/0,*.internal'))).toMatchObject({ code: 'target_refused' });
	});

	it.each([
		'http://127.0.0.1:5678/webhook/abc',
		'http://localhost:5678/webhook/abc',
		'http://[::1]:5678/webhook/abc',
		'http://10.0.0.5/hook',
		'http://169.253.255.255/hook',
		'http://169.255.0.1/hook',
		'http://[fec0::1]/hook',
		'http://100.100.100.201/hook',
		'https://hooks.example.com/x',
		'http://metadata.example.com/x',
		'http://n8n:5678/webhook/x',
	])('allows %s when TARGET_ALLOW is unset', (url) => {
		expect(check(url, unrestricted)).toBe(new URL(url).toString());
	});

	it('keeps the other URL checks as invalid_request, naming the field it is given', () => {
		expect(check('ftp://127.0.0.1/x', unrestricted, 'tasks[2].url')).toMatchObject({ code: 'invalid_request', field: 'tasks[2].url' });
		expect(check('http://u:p@127.0.0.1/x', unrestricted)).toMatchObject({ code: 'invalid_request', message: 'url must not contain credentials' });
		expect(check('http://169.254.169.254/', unrestricted, 'callbackUrl')).toMatchObject({
			code: 'target_refused',
			field: 'callbackUrl',
			message: 'callbackUrl is refused: 169.254.169.254 is a link-local address (always refused)',
		});
	});

	it('with TARGET_ALLOW: literal addresses by CIDR, names by entry; a name outside them waits for its DNS answer only when a CIDR could hold it', () => {
		const mixed = TargetPolicy.parse('localhost, *.example.com, 10.0.0.0/8, fd12::/16, 192.168.1.20');
		expect(check('http://10.200.0.1/x', mixed)).toBe('http://10.200.0.1/x');
		expect(check('http://192.168.1.20/x', mixed)).toBe('http://192.168.1.20/x');
		expect(check('http://[fd12::5]/x', mixed)).toBe('http://[fd12::5]/x');
		expect(check('http://192.168.1.21/x', mixed)).toMatchObject({ code: 'target_refused', message: 'url is refused: 192.168.1.21 is not in TARGET_ALLOW' });
		expect(check('http://127.0.0.1/x', mixed)).toMatchObject({ code: 'target_refused' }); // "localhost" is a name entry, not 127.0.0.1
		expect(check('http://[::ffff:10.1.2.3]/x', mixed)).toBe('http://[::ffff:a01:203]/x'); // mapped = the IPv4 address
		expect(check('http://unlisted.test/x', mixed)).toBe('http://unlisted.test/x'); // may resolve into 10.0.0.0/8

		const names = TargetPolicy.parse('n8n, *.example.com');
		expect(check('http://n8n:5678/x', names)).toBe('http://n8n:5678/x');
		expect(check('http://N8N.:5678/x', names)).toBe('http://n8n.:5678/x');
		expect(check('http://a.b.example.com/x', names)).toBe('http://a.b.example.com/x');
		expect(check('http://example.com/x', names)).toMatchObject({ code: 'target_refused', message: 'url is refused: example.com is not in TARGET_ALLOW' });
		expect(check('http://evilexample.com/x', names)).toMatchObject({ code: 'target_refused' });
		expect(check('http://127.0.0.1/x', names)).toMatchObject({ code: 'target_refused' });
	});
});

describe('target policy: the lookup every connection resolves through', () => {
	function lookupWith(policy: TargetPolicy, table: Record<string, string[]>, host: string, all: boolean) {
		const resolver = fakeResolver(table);
		return new Promise<{ error: Error | null; address: unknown; calls: string[] }>((resolve) => {
			policy.lookup(resolver.resolve)(host, { all }, (error, address) => resolve({ error, address, calls: resolver.calls }));
		});
	}

	it.each([
		['169.254.169.254'],
		['::ffff:169.254.169.254'],
		['fe80::1'],
		['fd00:ec2::254'],
		['100.100.100.200'],
		['64:ff9b::a9fe:a9fe'],
	])('refuses a name that resolves to %s, even one TARGET_ALLOW names', async (address) => {
		for (const policy of [unrestricted, TargetPolicy.parse('rebind.test')]) {
			for (const all of [true, false]) {
				const r = await lookupWith(policy, { 'rebind.test': ['127.0.0.1', address] }, 'rebind.test', all);
				expect(r.error).toBeInstanceOf(TargetRefusedError);
				expect(r.error?.message).toMatch(new RegExp(`^rebind\\.test resolves to a refused address: ${address.replace(/[.]/g, '\\.')} is .* \\(always refused\\)$`));
			}
		}
	});

	it('passes allowed answers on in the form asked for', async () => {
		const both = { 'ok.test': ['127.0.0.1', '::1'] };
		expect((await lookupWith(unrestricted, both, 'ok.test', true)).address).toEqual([
			{ address: '127.0.0.1', family: 4 },
			{ address: '::1', family: 6 },
		]);
		expect((await lookupWith(unrestricted, both, 'ok.test', false)).address).toBe('127.0.0.1');
		const missing = await lookupWith(unrestricted, {}, 'nowhere.test', true);
		expect((missing.error as NodeJS.ErrnoException).code).toBe('ENOTFOUND');
	});

	it('with TARGET_ALLOW: a listed name may resolve anywhere not always refused; another name only into a CIDR', async () => {
		const policy = TargetPolicy.parse('n8n, 127.0.0.0/8');
		expect((await lookupWith(policy, { n8n: ['172.18.0.5'] }, 'n8n', true)).error).toBeNull();
		expect((await lookupWith(policy, { 'local.test': ['127.0.0.2'] }, 'local.test', true)).error).toBeNull();
		const outside = await lookupWith(policy, { 'other.test': ['10.9.9.9'] }, 'other.test', true);
		expect(outside.error?.message).toBe('other.test resolves to a refused address: 10.9.9.9 is not in TARGET_ALLOW');
	});

	it('refuses the metadata names without asking the resolver', async () => {
		const r = await lookupWith(unrestricted, { 'metadata.google.internal': ['127.0.0.1'] }, 'metadata.google.internal', true);
		expect(r.error).toBeInstanceOf(TargetRefusedError);
		expect(r.calls).toEqual([]);
	});
});

describe('target policy: deliveries (loopback receiver, injected resolver, loopback-only guard)', () => {
	let server: http.Server;
	let port: number;
	let received = 0;
	let guard: ReturnType<typeof loopbackOnly>;

	beforeAll(async () => {
		guard = loopbackOnly();
		server = http.createServer((req, res) => {
			received += 1;
			req.resume();
			// Connection: close, so every delivery opens (and resolves) a new connection.
			res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end('{"ok":true}');
		});
		await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
		port = (server.address() as AddressInfo).port;
	});
	afterAll(async () => {
		guard?.restore();
		server.closeAllConnections();
		await new Promise((r) => server.close(r));
	});

	async function deliver(url: string, policy: TargetPolicy, table: Record<string, string[] | (() => string[])> = {}) {
		const resolver = fakeResolver(table);
		const client = createDeliveryClient({ targetPolicy: policy, resolve: resolver.resolve });
		const before = received;
		try {
			const outcome: DeliveryOutcome = await client.send({ url, body: '{}', headers: { 'content-type': 'application/json' }, timeoutMs: 5_000 });
			return { outcome, reached: received - before, calls: resolver.calls };
		} finally {
			client.close();
		}
	}

	it('connects to the address the resolver gives (the injected resolver is what connects)', async () => {
		const r = await deliver(`http://good.test:${port}/hook`, unrestricted, { 'good.test': ['127.0.0.1'] });
		expect(r.outcome).toMatchObject({ kind: 'delivered', statusCode: 200 });
		expect(r.reached).toBe(1);
		expect(r.calls).toEqual(['good.test']);
	});

	it.each([
		['169.254.169.254'],
		['::ffff:169.254.169.254'],
		['fe80::1'],
		['fd00:ec2::254'],
	])('fails at once, target_refused, a name resolving to %s — nothing is sent', async (address) => {
		const r = await deliver(`http://rebind.test:${port}/hook`, unrestricted, { 'rebind.test': [address] });
		expect(r.outcome).toMatchObject({ kind: 'failed', errorClass: 'target_refused', responseSnippet: null });
		const kind = address.startsWith('fd00') ? 'a cloud metadata address' : 'a link-local address';
		expect((r.outcome as { error: string }).error).toBe(`target refused: rebind.test resolves to a refused address: ${address} is ${kind} (always refused)`);
		expect(r.reached).toBe(0);
		expect(guard.blocked).toEqual([]); // the policy refused it, not the guard
	});

	it.each(['http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]:80/', 'http://[::ffff:a9fe:a9fe]/', 'http://metadata.google.internal/'])(
		'refuses %s before any lookup or connection',
		async (url) => {
			const r = await deliver(url, unrestricted, { 'metadata.google.internal': ['127.0.0.1'] });
			expect(r.outcome).toMatchObject({ kind: 'failed', errorClass: 'target_refused' });
			expect(r.calls).toEqual([]);
			expect(guard.blocked).toEqual([]);
		},
	);

	it('checks every new connection: a name that rebinds after a good answer is refused', async () => {
		let answers = 0;
		const table = { 'flip.test': () => (++answers === 1 ? ['127.0.0.1'] : ['169.254.169.254']) };
		const resolver = fakeResolver(table);
		const client = createDeliveryClient({ targetPolicy: unrestricted, resolve: resolver.resolve });
		try {
			const send = () => client.send({ url: `http://flip.test:${port}/hook`, body: '{}', headers: {}, timeoutMs: 5_000 });
			expect(await send()).toMatchObject({ kind: 'delivered' });
			expect(await send()).toMatchObject({ kind: 'failed', errorClass: 'target_refused' });
			expect(resolver.calls).toEqual(['flip.test', 'flip.test']);
			expect(guard.blocked).toEqual([]);
		} finally {
			client.close();
		}
	});

	it('with TARGET_ALLOW=127.0.0.1: another loopback address, literal or resolved, is refused', async () => {
		const policy = TargetPolicy.parse('127.0.0.1');
		expect((await deliver(`http://127.0.0.1:${port}/hook`, policy)).outcome).toMatchObject({ kind: 'delivered' });
		const literal = await deliver(`http://127.0.0.2:${port}/hook`, policy);
		expect(literal.outcome).toMatchObject({ kind: 'failed', errorClass: 'target_refused', error: 'target refused: 127.0.0.2 is not in TARGET_ALLOW' });
		const resolved = await deliver(`http://other.test:${port}/hook`, policy, { 'other.test': ['127.0.0.2'] });
		expect(resolved.outcome).toMatchObject({ kind: 'failed', errorClass: 'target_refused' });
		expect(resolved.reached + literal.reached).toBe(0);
	});

	it('the guard itself stops a connection the policy would let through', async () => {
		// A policy that allows everything it can (the guard is what a lax build would meet).
		const r = await deliver(`http://outside.test:${port}/hook`, TargetPolicy.parse('outside.test'), { 'outside.test': ['192.0.2.1'] });
		expect(r.outcome).toMatchObject({ kind: 'retry' });
		const literal = await deliver(`http://192.0.2.1:${port}/hook`, TargetPolicy.parse('192.0.2.1'));
		expect(literal.outcome).toMatchObject({ kind: 'retry' });
		expect(guard.blocked).toEqual(['outside.test → 192.0.2.1', '192.0.2.1']);
		guard.blocked.length = 0;
	});
});
