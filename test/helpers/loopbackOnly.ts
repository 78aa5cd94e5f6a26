import dns from 'node:dns';
import net from 'node:net';

/** 127.0.0.0/8, ::1 and their IPv4-mapped form. */
export function isLoopback(address: string): boolean {
	const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
	return net.isIPv4(v4) ? v4.startsWith('127.') : address === '::1';
}

type Lookup = (hostname: string, options: dns.LookupOptions, callback: (err: Error | null, address: string | dns.LookupAddress[], family?: number) => void) => void;

/**
 * A safety net for tests that aim the engine at refused addresses: while installed, every TCP
 * connection this process opens must go to a loopback address, whatever the code under test does.
 * A literal address is checked before connecting; a name is checked on its resolved answers inside
 * the connection's own lookup (wrapping the lookup the caller gave). Anything else fails with
 * `ELOOPBACKGUARD` and is listed in `blocked`, so even a broken target policy never lets a packet
 * leave the machine — and a test can tell "the policy refused it" (blocked stays empty) from "only
 * the guard did".
 */
export function loopbackOnly(): { blocked: string[]; restore(): void } {
	const blocked: string[] = [];
	const original = net.Socket.prototype.connect;
	const guardError = (what: string) => Object.assign(new Error(`loopback guard: refused to connect to ${what}`), { code: 'ELOOPBACKGUARD' });
	function guardedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
		// net.createConnection passes one normalized array ([options, callback]); other callers pass (options, cb) or (port, host, cb).
		const normalized = Array.isArray(args[0]) ? (args[0] as unknown[]) : null;
		const first = normalized ? normalized[0] : args[0];
		if (first !== null && typeof first === 'object') {
			const options = first as net.TcpNetConnectOpts & { path?: string | null };
			if (options.path) return original.apply(this, args as never); // a Unix socket (net tests the same way)
			const host = options.host ?? 'localhost';
			if (net.isIP(host) !== 0) {
				if (!isLoopback(host)) {
					blocked.push(host);
					process.nextTick(() => this.destroy(guardError(host)));
					return this;
				}
				return original.apply(this, args as never);
			}
			const inner = (options.lookup ?? dns.lookup) as unknown as Lookup;
			options.lookup = ((hostname: string, lookupOptions: dns.LookupOptions, callback: Parameters<Lookup>[2]) => {
				inner(hostname, lookupOptions, (err, address, family) => {
					if (err) return callback(err, address, family);
					const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
					const outside = addresses.filter((a) => !isLoopback(a));
					if (outside.length > 0) {
						blocked.push(...outside.map((a) => `${hostname} → ${a}`));
						return callback(guardError(`${hostname} (${outside.join(', ')})`), '', 0);
					}
					callback(null, address, family);
				});
			}) as never;
			return original.apply(this, args as never);
		}
		// (port, host?, cb?): as an options object, so a name goes through the guarded lookup too.
		const [port, host, cb] = args as [number, string | (() => void) | undefined, (() => void) | undefined];
		const options = { port, host: typeof host === 'string' ? host : 'localhost' };
		return guardedConnect.call(this, options, typeof host === 'function' ? host : cb);
	}
	net.Socket.prototype.connect = guardedConnect as typeof original;
	return {
		blocked,
		restore: () => {
			net.Socket.prototype.connect = original;
		},
	};
}
