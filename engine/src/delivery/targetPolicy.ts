import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * Where the engine may POST (README, "Security"): task URLs, handlers and batch callbacks.
 *
 * Always refused, whatever TARGET_ALLOW says: link-local addresses (169.254.0.0/16, fe80::/10 —
 * where cloud metadata services answer), the metadata addresses fd00:ec2::254 (AWS, IPv6) and
 * 100.100.100.200 (Alibaba Cloud), and the names `metadata` and `metadata.google.internal`; IPv4
 * written inside IPv6 (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`,
 * 6to4 `2002:AABB:CCDD::`) counts as the IPv4 address it carries.
 *
 * TARGET_ALLOW (unset = anywhere else) lists host names, `*.suffix` patterns (any name below the
 * suffix, not the suffix itself) and CIDRs (a bare address is a /32 or /128). A host name that
 * matches a name entry is allowed; any other target is allowed when the address connected to lies
 * in a CIDR entry. The address is the one actually connected to: names are checked on their DNS
 * answers inside the connection's own lookup ({@link TargetPolicy.lookup}), so a name that resolves
 * (or rebinds) to a refused address never gets a connection.
 */
export class TargetPolicy {
	private constructor(
		/** Exact host names (lower case, ASCII, no trailing dot). */
		private readonly names: ReadonlySet<string>,
		/** `*.example.com` kept as `.example.com`. */
		private readonly suffixes: readonly string[],
		private readonly cidrs: BlockList,
		private readonly hasCidrs: boolean,
		/** The entries as given, for messages and logs. */
		readonly entries: readonly string[],
	) {}

	/** No TARGET_ALLOW: anywhere but the always-refused addresses and names. */
	static readonly unrestricted = new TargetPolicy(new Set(), [], new BlockList(), false, []);

	/**
	 * Parses TARGET_ALLOW's comma-separated entries. Throws an Error whose message names the bad
	 * entry (the config loader prefixes the variable).
	 */
	static parse(text: string | undefined): TargetPolicy {
		const entries = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
		if (entries.length === 0) return TargetPolicy.unrestricted;
		const names = new Set<string>();
		const suffixes: string[] = [];
		const cidrs = new BlockList();
		let hasCidrs = false;
		for (const entry of entries) {
			const cidr = parseCidr(entry);
			if (cidr) {
				const inside = REFUSED.find((r) => cidr.kind === r.family && cidr.prefix >= r.prefix && r.list.check(cidr.address, r.family));
				if (inside) throw new Error(`entry "${entry}" can never be allowed: ${inside.reason}`);
				cidrs.addSubnet(cidr.address, cidr.prefix, cidr.kind);
				hasCidrs = true;
				continue;
			}
			const wildcard = entry.startsWith('*.');
			const name = normaliseName(wildcard ? entry.slice(2) : entry);
			if (name === null) {
				throw new Error(`entry "${entry}" is not a host name, a *.suffix pattern or a CIDR (like 10.0.0.0/8)`);
			}
			if (!wildcard && ALWAYS_REFUSED_NAMES.has(name)) throw new Error(`entry "${entry}" can never be allowed: it names a cloud metadata service`);
			if (wildcard) suffixes.push(`.${name}`);
			else names.add(name);
		}
		return new TargetPolicy(names, suffixes, cidrs, hasCidrs, Object.freeze(entries));
	}

	/** True when TARGET_ALLOW lists anything (else every target not always refused is allowed). */
	get restricted(): boolean {
		return this.entries.length > 0;
	}

	/**
	 * The check that needs no DNS, for a URL's host (`URL.hostname`, brackets and all): a literal
	 * address is checked in full; a name is refused when it is a metadata name, or when TARGET_ALLOW
	 * has neither a matching name entry nor any CIDR its addresses could fall in. Returns why the
	 * host is refused, or null (for a name: so far — its addresses are checked when connecting).
	 */
	refusalForHost(hostname: string): string | null {
		const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
		if (isIP(host) !== 0) return this.refusalForAddress(host, false);
		const name = normaliseName(host);
		if (name === null) return `"${hostname}" is not a host name`;
		if (ALWAYS_REFUSED_NAMES.has(name)) return `${name} is a cloud metadata service (always refused)`;
		if (this.restricted && !this.allowsName(name) && !this.hasCidrs) return `${name} is not in TARGET_ALLOW`;
		return null;
	}

	/**
	 * Why connecting to `address` is refused, or null. `nameAllowed`: the host name the address came
	 * from matched a TARGET_ALLOW name entry, so only the always-refused addresses are refused.
	 */
	refusalForAddress(address: string, nameAllowed: boolean): string | null {
		if (isIP(address) === 0) return `"${address}" is not an IP address`; // fail closed on a strange answer
		const always = refusalReason(address);
		if (always) return `${address} is ${always} (always refused)`;
		if (!this.restricted || nameAllowed) return null;
		const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
		return this.hasCidrs && this.cidrs.check(address, family) ? null : `${address} is not in TARGET_ALLOW`;
	}

	/**
	 * A `lookup` for Node's HTTP client that resolves with `resolve` (dns.lookup by default) and
	 * fails with a {@link TargetRefusedError} when any answer is refused — before any connection
	 * is made, so a refused address never sees a packet. Literal addresses never reach a lookup:
	 * check them with {@link refusalForHost} first.
	 */
	lookup(resolve: LookupFunction = dnsLookup as unknown as LookupFunction): LookupFunction {
		return (hostname: string, options: LookupOptions, callback: LookupCallback) => {
			const name = normaliseName(hostname) ?? hostname;
			const early = this.refusalForHost(hostname);
			if (early) return callback(new TargetRefusedError(early), '', 0);
			const nameAllowed = this.allowsName(name);
			resolve(hostname, { ...options, all: true }, (error, answer) => {
				if (error) return callback(error, '', 0);
				const addresses = Array.isArray(answer) ? answer : [{ address: answer, family: isIP(answer) } as LookupAddress];
				for (const a of addresses) {
					const refusal = this.refusalForAddress(a.address, nameAllowed);
					if (refusal) return callback(new TargetRefusedError(`${name} resolves to a refused address: ${refusal}`), '', 0);
				}
				if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${name}`), { code: 'ENOTFOUND' }), '', 0);
				if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
				callback(null, addresses[0].address, addresses[0].family);
			});
		};
	}

	private allowsName(name: string): boolean {
		return this.names.has(name) || this.suffixes.some((suffix) => name.endsWith(suffix));
	}
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A target the policy refuses; `code` lets transport errors be told apart from it. */
export class TargetRefusedError extends Error {
	readonly code = 'ETARGETREFUSED';
	override name = 'TargetRefusedError';
}

const ALWAYS_REFUSED_NAMES: ReadonlySet<string> = new Set(['metadata', 'metadata.google.internal']);

/** [address, prefix, what it is] of the IPv4 networks every target is refused in. */
const REFUSED_V4: readonly [string, number, string][] = [
	['169.254.0.0', 16, 'a link-local address'],
	['100.100.100.200', 32, 'a cloud metadata address'],
];
const REFUSED_V6: readonly [string, number, string][] = [
	['fe80::', 10, 'a link-local address'],
	['fd00:ec2::254', 128, 'a cloud metadata address'],
];

/**
 * The refused networks, each with its reason. IPv4 rules also cover the IPv6 forms that carry an
 * IPv4 address (BlockList already matches `::ffff:a.b.c.d` against IPv4 rules).
 */
const REFUSED: readonly { list: BlockList; reason: string; family: 'ipv4' | 'ipv6'; prefix: number }[] = [
	...REFUSED_V4.map(([address, prefix, reason]) => {
		const list = new BlockList();
		list.addSubnet(address, prefix, 'ipv4');
		list.addSubnet(`::${address}`, 96 + prefix, 'ipv6'); // IPv4-compatible
		list.addSubnet(`64:ff9b::${address}`, 96 + prefix, 'ipv6'); // NAT64
		list.addSubnet(`2002:${v4Hex(address)}::`, 16 + prefix, 'ipv6'); // 6to4
		return { list, reason, family: 'ipv4' as const, prefix };
	}),
	...REFUSED_V6.map(([address, prefix, reason]) => {
		const list = new BlockList();
		list.addSubnet(address, prefix, 'ipv6');
		return { list, reason, family: 'ipv6' as const, prefix };
	}),
];

/** What makes `address` always refused (e.g. "a link-local address"), or null. */
function refusalReason(address: string): string | null {
	const family = isIP(address);
	if (family === 0) return null;
	return REFUSED.find((r) => r.list.check(address, family === 6 ? 'ipv6' : 'ipv4'))?.reason ?? null;
}

/** "169.254.0.0" → "a9fe:0000" (the two IPv6 groups of an IPv4 address). */
function v4Hex(address: string): string {
	const [a, b, c, d] = address.split('.').map(Number);
	const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
	return `${hex(a, b)}:${hex(c, d)}`;
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address; null when `entry` is none of these. */
function parseCidr(entry: string): { address: string; prefix: number; kind: 'ipv4' | 'ipv6' } | null {
	const [raw, bits, extra] = entry.split('/');
	const address = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
	const family = isIP(address);
	if (family === 0 || extra !== undefined) return null;
	const max = family === 4 ? 32 : 128;
	const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
	if (!(prefix >= 0 && prefix <= max)) throw new Error(`entry "${entry}" has a prefix length that is not 0–${max}`);
	return { address, prefix, kind: family === 4 ? 'ipv4' : 'ipv6' };
}

/** Lower case, ASCII (punycode), without the trailing dot; null when it is no valid host name. */
function normaliseName(host: string): string | null {
	const trimmed = host.endsWith('.') ? host.slice(0, -1) : host;
	if (trimmed === '' || trimmed.length > 253) return null;
	const ascii = domainToASCII(trimmed);
	if (ascii === '' || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(ascii)) return null;
	return ascii;
}
