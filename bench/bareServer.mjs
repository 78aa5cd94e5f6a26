// The HTTP clients' own ceiling: a server that answers every request at once, with no database and
// no engine code, the way the engine answers an enqueue (201, the same JSON body). The clients and
// PostgreSQL share the machine's cores with the engine, so what a client reaches against this
// server is the most it could reach against any server here; the enqueue section prints it beside
// the engine's figure (a client that needs a third of the machine for itself bounds the ratio).
//
// It runs as its own process, like the engine: `node bench/bareServer.mjs` with BARE_BODY set.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.mjs';
import { apiClient, readCpuSeconds } from './engineProcess.mjs';

const SELF = fileURLToPath(import.meta.url);

/** Starts the bare server answering every request with 201 and `body` (a JSON value); `stop()` ends it. */
export async function startBareServer(body) {
	const child = spawn(process.execPath, [SELF], {
		env: { ...process.env, BARE_BODY: JSON.stringify(body) },
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	const exited = new Promise((resolve) => child.once('exit', resolve));
	const stop = onCleanup(`bare server ${child.pid}`, async () => {
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
		await exited;
	});
	try {
		const baseUrl = await new Promise((resolve, reject) => {
			let out = '';
			child.stdout.setEncoding('utf8').on('data', (chunk) => {
				out += chunk;
				const match = /listening on (http:\/\/\S+)/.exec(out);
				if (match) resolve(match[1]);
			});
			exited.then((code) => reject(new Error(`bare server exited during start (code ${code})`)));
		});
		const apiKey = 'bare';
		return { pid: child.pid, baseUrl, apiKey, ...apiClient(baseUrl, apiKey), cpuSeconds: () => readCpuSeconds(child.pid), stop };
	} catch (error) {
		await stop();
		throw error;
	}
}

function serve() {
	const answer = process.env.BARE_BODY ?? '{}';
	const server = http.createServer((req, res) => {
		// Read the request to its end and parse it, as any server must.
		const chunks = [];
		req.on('data', (chunk) => chunks.push(chunk));
		req.on('end', () => {
			if (chunks.length > 0) JSON.parse(Buffer.concat(chunks).toString('utf8'));
			res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
			res.end(answer);
		});
	});
	// As the engine (Fastify's default): idle keep-alive connections are not cut during a run.
	server.keepAliveTimeout = 65_000;
	server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
	process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
}

if (process.argv[1] === SELF) serve();
