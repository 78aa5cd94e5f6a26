// A minimal handler for the engine's deliveries: node:http on 127.0.0.1 answering 200 `{}` at once
// (or after `delayMs`, a handler that takes that long), recording when each task id (the
// `webhook-id` header) first arrived and how long the answers were held.
import http from 'node:http';
import { onCleanup } from './cleanup.mjs';
import { nowMs } from './stats.mjs';

/**
 * `keepBodies`: also parse and keep each first delivery's JSON body (pickup and lateness need
 * `createdAt`/`scheduledFor`; the throughput run only counts).
 * `delayMs`: answer that long after the body arrived, like a handler doing work (0: at once).
 */
export async function startReceiver({ keepBodies = false, delayMs = 0 } = {}) {
	const arrivals = new Map(); // task id → { at, body }
	const waiters = new Map(); // task id → resolve
	const countWaiters = [];
	let requests = 0;
	let connections = 0;
	// Request arrival → answer written, summed: the handler's share of a delivery, measured rather
	// than assumed (a 20 ms timer fires a little late, more so on a loaded machine).
	let heldMs = 0;
	let answered = 0;

	const server = http.createServer((req, res) => {
		const at = nowMs();
		requests += 1;
		const id = req.headers['webhook-id'];
		const chunks = [];
		req.on('data', (c) => {
			if (keepBodies) chunks.push(c);
		});
		const answer = () => {
			res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
			res.end('{}');
			heldMs += nowMs() - at;
			answered += 1;
		};
		req.on('end', () => {
			if (delayMs > 0) setTimeout(answer, delayMs);
			else answer();
			if (typeof id !== 'string' || arrivals.has(id)) return;
			let body = null;
			if (keepBodies) {
				try {
					body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
				} catch {
					// recorded without a body
				}
			}
			arrivals.set(id, { at, body });
			waiters.get(id)?.({ at, body });
			waiters.delete(id);
			for (let i = countWaiters.length - 1; i >= 0; i--) {
				if (arrivals.size >= countWaiters[i].n) {
					const [entry] = countWaiters.splice(i, 1);
					clearTimeout(entry.timer);
					entry.resolve(true);
				}
			}
		});
	});
	server.on('connection', () => (connections += 1));
	server.keepAliveTimeout = 30_000;
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	const close = onCleanup('receiver', () => {
		server.closeAllConnections();
		return new Promise((resolve) => server.close(() => resolve()));
	});

	return {
		url: `http://127.0.0.1:${server.address().port}/deliveries`,
		/** Distinct task ids delivered so far. */
		get unique() {
			return arrivals.size;
		},
		/** TCP connections opened to the receiver so far (keep-alive reuse keeps this low). */
		get connections() {
			return connections;
		},
		/** Starts counting afresh (arrivals, requests, time held; not connections): after a warm-up. */
		forget() {
			arrivals.clear();
			requests = 0;
			heldMs = 0;
			answered = 0;
		},
		/** Every request, repeats included. */
		get requests() {
			return requests;
		},
		/** Mean time a request was held before its answer was written (ms), over every answered request. */
		get meanHeldMs() {
			return answered === 0 ? 0 : heldMs / answered;
		},
		arrivals,
		/** The first arrival of `id`, or null after `timeoutMs`. */
		waitFor(id, timeoutMs) {
			const seen = arrivals.get(id);
			if (seen) return Promise.resolve(seen);
			return new Promise((resolve) => {
				const timer = setTimeout(() => {
					waiters.delete(id);
					resolve(null);
				}, timeoutMs);
				waiters.set(id, (arrival) => {
					clearTimeout(timer);
					resolve(arrival);
				});
			});
		},
		/** Resolves true once `n` distinct ids arrived, false after `timeoutMs`. */
		waitForCount(n, timeoutMs) {
			if (arrivals.size >= n) return Promise.resolve(true);
			return new Promise((resolve) => {
				const entry = { n, resolve, timer: undefined };
				countWaiters.push(entry);
				entry.timer = setTimeout(() => {
					const i = countWaiters.indexOf(entry);
					if (i >= 0) countWaiters.splice(i, 1);
					resolve(false);
				}, timeoutMs);
			});
		},
		close,
	};
}
