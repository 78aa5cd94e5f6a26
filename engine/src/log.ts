import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Structured JSON logs on standard error. Standard output is kept for the few lines meant for a
 * person (the generated API key, where the engine listens), so `task-engine start > file` never
 * captures a secret in the log stream and vice versa.
 */
export function createLogger(level: LogLevel): Logger {
	return pino(
		{
			level,
			base: { service: 'task-engine' },
			redact: { paths: ['secret', '*.secret', 'apiKey', 'headers.authorization'], censor: '[redacted]' },
		},
		pino.destination({ fd: 2, sync: false }),
	);
}

/** A logger that drops everything: for tests and tools that want silence. */
export function silentLogger(): Logger {
	return pino({ level: 'silent' });
}
