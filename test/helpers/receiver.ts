import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
	at: number;
	method: string;
	path: string;
	headers: http.IncomingHttpHeaders;
	body: string;
	json: any;
}

export interface Reply {
	status?: number;
	headers?: Record<string, string>;
	body?: unknown;
	/** Wait this long before answering (a slow or hanging handler). */
	delayMs?: number;
}

/**
 * A real HTTP handler on loopback that records every request and answers with whatever `respond`
 * says (200 `{ ok: true }` by default). It also tracks how many requests are in progress at once.
 */
export async function startReceiver(respond: (req: ReceivedRequest, index: number) => Reply | Promise<Reply> = () => ({})) {
	const requests: ReceivedRequest[] = [];
	let inProgress = 0;
	let maxInProgress = 0;
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', async () => {
			inProgress += 1;
			maxInProgress = Math.max(maxInProgress, inProgress);
			const body = Buffer.concat(chunks).toString('utf8');
			let json: unknown = null;
			try {
				json = JSON.parse(body);
			} catch {
				// not JSON
			}
			const received: ReceivedRequest = { at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
			const index = requests.push(received) - 1;
			const reply = await respond(received, index);
			if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
			inProgress -= 1;
			if (res.destroyed) return;
			// A string or Buffer goes out exactly as given (odd bytes included); anything else as JSON.
			const payload =
				reply.body === undefined ? JSON.stringify({ ok: true }) : typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
			res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
			res.end(payload);
		});
	});
	server.keepAliveTimeout = 60_000;
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}/hook`,
		port,
		requests,
		get maxInProgress() {
			return maxInProgress;
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
