#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --heap-growing-percent=50 --expose-gc
// V8 sized for a long-running service on a small machine (README "Benchmarks"; `npm start` passes
// the same flags). The young generation capped at 4 MiB per semi-space (Node 24 grows it to 32):
// RSS at start ~117 MiB instead of ~141. The old generation collected when it has grown by half
// (V8 lets a busy heap grow up to 4x): at concurrency 500 the deliveries in flight outlive the
// small young generation and are promoted, and the peak RSS stays ~170 MiB instead of ~265-290.
// Measured throughput within the run-to-run noise. `gc` exposed for maintenance/idleMemory.ts, which
// gives the heap a busy spell left behind back once the engine is idle again. MALLOC_ARENA_MAX=2:
// glibc otherwise gives each thread that allocates (libuv's pool, V8's helpers) an arena of its own
// and keeps what they freed; A/B at concurrency 500, RSS peak 162-163 MiB instead of 167-177, idle
// after delivering 111-118 instead of 113-122, throughput within the noise.
import { ConfigError, helpText, loadConfig, parseFlags } from './config.js';
import { createLogger, type Logger } from './log.js';

/** The engine's log, once made: a failure flushes it before its one line, so that line comes last. */
let openLog: Logger | null = null;

/**
 * `task-engine start`: resolve config, build the engine, listen, and stop cleanly on SIGINT/SIGTERM.
 * Failures a person can fix (bad config, unreachable database) print one line and exit 1.
 */
async function main(argv: string[]): Promise<number> {
	const [command, ...rest] = argv;
	if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
		process.stdout.write(helpText());
		return command === undefined ? 1 : 0;
	}
	if (command !== 'start') {
		process.stderr.write(`task-engine: unknown command "${command}" (see task-engine --help)\n`);
		return 2;
	}
	if (rest.includes('--help')) {
		process.stdout.write(helpText());
		return 0;
	}

	const config = loadConfig(process.env, parseFlags(rest));
	const log = createLogger(config.logLevel);
	openLog = log;
	// Loaded here so that --help and config errors answer without loading the whole engine.
	const { createEngine } = await import('./app.js');
	const engine = await createEngine(config, log);
	const address = await engine.server.listen({ host: config.host, port: config.port });
	engine.memory.collectNow('start-up');

	const database = engine.embedded ? `embedded PostgreSQL (${engine.embedded.clusterDir})` : 'DATABASE_URL';
	process.stdout.write(`task-engine listening on ${address} (database: ${database})\n`);
	process.stdout.write(`API docs: ${address}/docs\n`);
	process.stdout.write(`Dashboard: ${address}/ui (paste an API key)\n`);
	if (engine.keys.generatedKey) {
		process.stdout.write(`\nGenerated API key (shown once; also saved to ${engine.keys.keyFile}):\n  ${engine.keys.generatedKey}\n\n`);
	} else if (engine.keys.keyFile) {
		process.stdout.write(`API key file: ${engine.keys.keyFile}\n`);
	}
	log.info({ address, engineId: engine.engineId }, 'engine started');

	await new Promise<void>((resolve) => {
		let signals = 0;
		const onSignal = (signal: NodeJS.Signals) => {
			signals += 1;
			if (signals > 1) {
				log.warn('second signal: exiting now');
				process.exit(130);
			}
			log.info({ signal }, 'stopping: finishing in-flight deliveries');
			engine.stop().then(resolve, (error: unknown) => {
				log.error({ err: error }, 'stop failed');
				resolve();
			});
		};
		process.on('SIGINT', onSignal);
		process.on('SIGTERM', onSignal);
	});
	log.info('engine stopped');
	return 0;
}

function describe(error: unknown): string {
	if (error instanceof ConfigError) return error.message;
	const e = error as { name?: string; message?: string; code?: string; address?: string; port?: number };
	if (e?.name === 'EmbeddedPostgresError') return e.message ?? String(error);
	if (e?.code === 'EADDRINUSE') return `PORT ${e.port ?? ''} is already in use (set PORT or --port)`;
	if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN' || e?.code === '28P01' || e?.code === '3D000') {
		return `DATABASE_URL: cannot connect to the database (${e.message ?? e.code})`;
	}
	if (e?.message?.includes('timeout') && e.message.includes('connect')) return `DATABASE_URL: cannot connect to the database (${e.message})`;
	return `startup failed: ${e?.message ?? String(error)}`;
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(error: unknown) => {
		const fail = () => {
			process.stderr.write(`task-engine: ${describe(error)}\n`);
			process.exit(1);
		};
		// The log is written asynchronously: a warning logged just before would otherwise land after the line.
		if (openLog) openLog.flush(fail);
		else fail();
	},
);
