import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a node sent to the engine, as it went over the wire. */
export interface SentRequest {
	method: string;
	path: string;
	/** The parsed JSON body; undefined without one. */
	body: any;
	/** The engine's answer status. */
	status: number;
}

/**
 * A loopback HTTP proxy in front of a real engine that records what the nodes send: the exact
 * request bodies, which the engine's answers alone cannot show (a field sent empty, a field left
 * out). Everything is forwarded unchanged and answered with the engine's own status and body.
 */
export async function startRecordingProxy(engineBaseUrl: string) {
	const sent: SentRequest[] = [];
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			void (async () => {
				const raw = Buffer.concat(chunks);
				const record: SentRequest = { method: req.method ?? '', path: req.url ?? '', body: raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8')), status: 0 };
				sent.push(record);
				const headers: Record<string, string> = {};
				for (const name of ['authorization', 'content-type', 'accept']) {
					const value = req.headers[name];
					if (typeof value === 'string') headers[name] = value;
				}
				const answer = await fetch(`${engineBaseUrl}${record.path}`, {
					method: record.method,
					headers,
					...(raw.length === 0 ? {} : { body: raw }),
				});
				record.status = answer.status;
				const body = Buffer.from(await answer.arrayBuffer());
				res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(body);
			})().catch((error: unknown) => {
				res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(error) }));
			});
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		baseUrl: `http://127.0.0.1:${port}`,
		sent,
		/** The requests sent since the last call, then forgets them. */
		take(): SentRequest[] {
			return sent.splice(0, sent.length);
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
