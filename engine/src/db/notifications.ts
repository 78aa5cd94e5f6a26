import pg from 'pg';
import type { Logger } from '../log.js';
import { quoteIdent, type Queryable } from './pool.js';

/** What engines tell each other through LISTEN/NOTIFY. Payloads are queue names. */
export type Topic = 'tasks' | 'queues';

export function channelName(schema: string, topic: Topic): string {
	return `${schema}.${topic}`;
}

/** Sends a notification inside the caller's transaction: it is delivered only if that commits. */
export async function notify(db: Queryable, schema: string, topic: Topic, payload: string): Promise<void> {
	await db.query('SELECT pg_notify($1, $2)', [channelName(schema, topic), payload]);
}

/** A topic's listener; `own` is true when one of this engine's own connections sent it. */
type Listener = (payload: string, own: boolean) => void;

/**
 * One dedicated connection listening for the engine's topics. Notifications only make pickup fast:
 * a lost connection is re-opened with backoff, and `onReconnect` listeners run a full poll so that
 * anything announced while it was down is still found.
 */
export class Notifications {
	private client: pg.Client | null = null;
	private readonly listeners = new Map<Topic, Set<Listener>>();
	private readonly reconnectListeners = new Set<() => void>();
	private stopped = false;
	private retryTimer: NodeJS.Timeout | null = null;

	constructor(
		private readonly connectionString: string,
		private readonly schema: string,
		private readonly log: Logger,
		/** Whether a backend process id is one of this engine's own pool connections. */
		private readonly isOwnBackend: (pid: number) => boolean = () => false,
	) {}

	on(topic: Topic, listener: Listener): () => void {
		let set = this.listeners.get(topic);
		if (!set) this.listeners.set(topic, (set = new Set()));
		set.add(listener);
		return () => set.delete(listener);
	}

	onReconnect(listener: () => void): void {
		this.reconnectListeners.add(listener);
	}

	async start(): Promise<void> {
		await this.connect();
	}

	private async connect(): Promise<void> {
		const client = new pg.Client({ connectionString: this.connectionString, application_name: 'task-engine' });
		client.on('error', (error) => this.reconnect(client, error));
		client.on('end', () => this.reconnect(client));
		client.on('notification', (message) => {
			const topic = message.channel.slice(this.schema.length + 1) as Topic;
			const own = this.isOwnBackend(message.processId);
			for (const listener of this.listeners.get(topic) ?? []) listener(message.payload ?? '', own);
		});
		await client.connect();
		for (const topic of ['tasks', 'queues'] as const) {
			await client.query(`LISTEN ${quoteIdent(channelName(this.schema, topic))}`);
		}
		this.client = client;
	}

	private reconnect(client: pg.Client, error?: Error): void {
		if (this.stopped || this.client !== client) return;
		this.client = null;
		this.log.warn({ err: error }, 'notification connection lost; reconnecting');
		client.end().catch(() => undefined);
		const attempt = (delay: number) => {
			this.retryTimer = setTimeout(() => {
				if (this.stopped) return;
				this.connect().then(
					() => {
						this.log.info('notification connection restored');
						for (const listener of this.reconnectListeners) listener();
					},
					() => attempt(Math.min(delay * 2, 10_000)),
				);
			}, delay);
		};
		attempt(200);
	}

	async stop(): Promise<void> {
		this.stopped = true;
		if (this.retryTimer) clearTimeout(this.retryTimer);
		const client = this.client;
		this.client = null;
		await client?.end().catch(() => undefined);
	}
}
