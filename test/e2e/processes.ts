import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';

/** A child process of the harness whose output goes to a log file and is kept in memory for matching. */
export interface RunningProcess {
	readonly name: string;
	readonly child: ChildProcess;
	readonly logFile: string;
	/** Everything written to stdout and stderr so far. */
	output(): string;
	/** Resolves with the first match of `pattern` in the output; rejects if the process exits first or on timeout. */
	waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
	/** SIGTERM to the whole process group, SIGKILL after `graceMs`; resolves once it has exited. */
	stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `command` in its own process group (`detached`), so stopping it also stops anything it
 * started (n8n's task runner).
 */
export function startProcess(name: string, command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; logFile: string }): RunningProcess {
	const log = createWriteStream(options.logFile);
	const child = spawn(command, args, { env: options.env, cwd: options.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
	let text = '';
	const onData = (chunk: Buffer) => {
		text += chunk.toString('utf8');
		log.write(chunk);
	};
	child.stdout!.on('data', onData);
	child.stderr!.on('data', onData);
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	exited.then(() => log.end());

	return {
		name,
		child,
		logFile: options.logFile,
		output: () => text,
		waitForOutput(pattern, timeoutMs) {
			return new Promise((resolve, reject) => {
				const check = () => {
					const match = text.match(pattern);
					if (!match) return false;
					finish();
					resolve(match);
					return true;
				};
				const onExit = (code: number | null, signal: string | null) => {
					finish();
					reject(new Error(`${name} exited (code ${code}, signal ${signal}) before printing ${pattern}; log: ${options.logFile}\n${tail(text)}`));
				};
				const timer = setTimeout(() => {
					finish();
					reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms; log: ${options.logFile}\n${tail(text)}`));
				}, timeoutMs);
				const finish = () => {
					clearTimeout(timer);
					child.stdout!.off('data', check);
					child.stderr!.off('data', check);
					child.off('exit', onExit);
				};
				if (check()) return;
				child.stdout!.on('data', check);
				child.stderr!.on('data', check);
				child.once('exit', onExit);
			});
		},
		async stop(graceMs = 10_000) {
			if (child.exitCode !== null || child.signalCode !== null) return;
			signalGroup(child, 'SIGTERM');
			const killer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
			await exited;
			clearTimeout(killer);
			// The leader has exited; make sure nothing it started outlives it.
			signalGroup(child, 'SIGKILL');
		},
	};
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
	try {
		process.kill(-child.pid!, signal);
	} catch {
		// the group is already gone
	}
}

/** The last lines of a log, for error messages. */
export function tail(text: string, lines = 30): string {
	return text.split('\n').slice(-lines).join('\n');
}

/**
 * `count` distinct loopback ports that are free right now. Only for programs that cannot listen on
 * port 0 and report the port back (n8n); a small race with other programs remains.
 */
export async function freePorts(count: number): Promise<number[]> {
	const servers = Array.from({ length: count }, () => net.createServer());
	await Promise.all(
		servers.map(
			(server) =>
				new Promise<void>((resolve, reject) => {
					server.once('error', reject);
					server.listen(0, '127.0.0.1', resolve);
				}),
		),
	);
	const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
	await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
	return ports;
}
