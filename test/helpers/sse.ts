import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestEngine } from './engine.js';
import { TEST_API_KEY } from './engine.js';

/** One Server-Sent Event as a client parses it. */
export interface SseEvent {
	event: string;
	id: string | null;
	data: any;
	/** When it arrived (ms, process clock). */
	at: number;
}

export interface SseClient {
	status: number;
	headers: http.IncomingHttpHeaders;
	/** The JSON body of a refused request (status other than 200). */
	body: any;
	events: SseEvent[];
	/** Comment lines (`: ping`). */
	comments: string[];
	/** The last id received, as a browser keeps it for `Last-Event-ID`. */
	lastId: string | null;
	ended: boolean;
	/** Resolves with the first event (from `from` on) that matches, or fails after `timeoutMs`. */
	next(match: (e: SseEvent) => boolean, timeoutMs?: number, from?: number): Promise<SseEvent>;
	/** Stops reading from the socket (a slow client), and starts again. */
	pause(): void;
	resume(): void;
	/** Resolves when the server ended the stream. */
	whenEnded(timeoutMs?: number): Promise<void>;
	close(): void;
}

/** The engine's HTTP server on a loopback port (streams cannot go through `inject`). */
export async function listen(te: TestEngine): Promise<string> {
	const server = te.engine.server;
	if (!server.server.listening) await server.listen({ port: 0, host: '127.0.0.1' });
	const { port } = server.server.address() as AddressInfo;
	return `http://127.0.0.1:${port}`;
}

/** Opens `GET path` as an event stream with the test key (or `key`; null: no Authorization header). */
export function openStream(baseUrl: string, path: string, opts: { key?: string | null; headers?: Record<string, string> } = {}): Promise<SseClient> {
	const key = opts.key === undefined ? TEST_API_KEY : opts.key;
	const headers: Record<string, string> = { accept: 'text/event-stream', ...opts.headers };
	if (key !== null) headers.authorization = `Bearer ${key}`;
	return new Promise((resolve, reject) => {
		const req = http.get(`${baseUrl}${path}`, { headers }, (res) => {
			const waiters = new Set<() => void>();
			const client: SseClient = {
				status: res.statusCode ?? 0,
				headers: res.headers,
				body: null,
				events: [],
				comments: [],
				lastId: null,
				ended: false,
				next(match, timeoutMs = 10_000, from = 0) {
					return new Promise((ok, fail) => {
						const check = () => {
							const found = client.events.slice(from).find(match);
							if (found) {
								waiters.delete(check);
								clearTimeout(timer);
								ok(found);
							} else if (client.ended) {
								waiters.delete(check);
								clearTimeout(timer);
								const why = client.status === 200 ? '' : ` (refused: ${client.status} ${JSON.stringify(client.body)})`;
								fail(new Error(`stream ended without the event${why}; got ${client.events.map((e) => e.event).join(', ')}`));
							}
						};
						const timer = setTimeout(() => {
							waiters.delete(check);
							fail(new Error(`no matching event within ${timeoutMs} ms; got ${client.events.length}: ${JSON.stringify(client.events.slice(-5))}`));
						}, timeoutMs);
						waiters.add(check);
						check();
					});
				},
				pause: () => res.pause(),
				resume: () => res.resume(),
				whenEnded(timeoutMs = 10_000) {
					if (client.ended) return Promise.resolve();
					return new Promise((ok, fail) => {
						const timer = setTimeout(() => fail(new Error(`stream did not end within ${timeoutMs} ms`)), timeoutMs);
						res.once('close', () => {
							clearTimeout(timer);
							ok();
						});
					});
				},
				close: () => req.destroy(),
			};
			if (client.status !== 200) {
				let text = '';
				res.setEncoding('utf8').on('data', (c: string) => (text += c));
				res.on('end', () => {
					client.body = text ? JSON.parse(text) : null;
					client.ended = true;
					resolve(client);
				});
				return;
			}
			let buffer = '';
			res.setEncoding('utf8').on('data', (chunk: string) => {
				buffer += chunk;
				let cut: number;
				while ((cut = buffer.indexOf('\n\n')) >= 0) {
					const block = buffer.slice(0, cut);
					buffer = buffer.slice(cut + 2);
					let event = 'message';
					let id: string | null = null;
					const data: string[] = [];
					for (const line of block.split('\n')) {
						if (line.startsWith(':')) client.comments.push(line.slice(1).trim());
						else if (line.startsWith('event: ')) event = line.slice(7);
						else if (line.startsWith('id: ')) id = line.slice(4);
						else if (line.startsWith('data: ')) data.push(line.slice(6));
					}
					// A block with an id and no data sets the position without an event (the SSE standard).
					if (id !== null) client.lastId = id;
					if (data.length === 0) continue;
					client.events.push({ event, id, data: JSON.parse(data.join('\n')), at: Date.now() });
				}
				for (const w of [...waiters]) w();
			});
			res.on('close', () => {
				client.ended = true;
				for (const w of [...waiters]) w();
			});
			resolve(client);
		});
		req.on('error', reject);
	});
}
