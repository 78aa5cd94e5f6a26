import pg from 'pg';
import type { Logger } from '../log.js';
import { connectionSettings, DEFAULT_CONNECTION_LIMITS, quoteIdent, type ConnectionLimits, type Queryable } from './pool.js';

/**
 * What engines tell each other through LISTEN/NOTIFY. Payloads are queue names; `events` (sent by
 * the event log's triggers, migration 0010) carries none and is listened to only on demand.
 */
export type Topic = 'tasks' | 'queues' | 'events';
const ALWAYS_LISTENED: readonly Topic[] = ['tasks', 'queues'];

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
 * a lost connection is re-opened with backoff (at most 2 s apart, so pickup resumes within seconds of
 * the database's return), and `onReconnect` listeners run a full poll so that anything announced
 * while it was down is still found. A connection that stops answering without closing (half-open) is
 * found by a periodic ping and replaced.
 */
export class Notifications {
	private client: pg.Client | null = null;
	private readonly listeners = new Map<Topic, Set<Listener>>();
	private readonly reconnectListeners = new Set<() => void>();
	/** Topics listened to on demand, with how many listeners want each. */
	private readonly onDemand = new Map<Topic, number>();
	private stopped = false;
	private retryTimer: NodeJS.Timeout | null = null;
	private pingTimer: NodeJS.Timeout | null = null;

	constructor(
		private readonly connectionString: string,
		private readonly schema: string,
		private readonly log: Logger,
		/** Whether a backend process id is one of this engine's own pool connections. */
		private readonly isOwnBackend: (pid: number) => boolean = () => false,
		private readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
		private readonly pingIntervalMs = 15_000,
	) {}

	on(topic: Topic, listener: Listener): () => void {
		let set = this.listeners.get(topic);
		if (!set) this.listeners.set(topic, (set = new Set()));
		set.add(listener);
		return () => set.delete(listener);
	}

	/**
	 * Listens to an on-demand topic until the returned function is called: its LISTEN is sent only
	 * while someone wants it, so its notifications do not reach engines that would ignore them.
	 */
	listen(topic: Topic, listener: () => void): () => void {
		const off = this.on(topic, listener);
		const wanted = (this.onDemand.get(topic) ?? 0) + 1;
		this.onDemand.set(topic, wanted);
		if (wanted === 1) this.send(`LISTEN ${quoteIdent(channelName(this.schema, topic))}`);
		let done = false;
		return () => {
			if (done) return;
			done = true;
			off();
			const left = (this.onDemand.get(topic) ?? 1) - 1;
			this.onDemand.set(topic, left);
			if (left === 0) this.send(`UNLISTEN ${quoteIdent(channelName(this.schema, topic))}`);
		};
	}

	/** A LISTEN/UNLISTEN on the current connection (a lost one re-listens on reconnect). */
	private send(statement: string): void {
		this.client?.query(statement).catch((error: Error) => {
			// A lost connection re-listens when it is back; only a refused statement is worth a line.
			if (!this.stopped && this.client !== null) this.log.warn({ err: error }, 'LISTEN/UNLISTEN failed');
		});
	}

	onReconnect(listener: () => void): void {
		this.reconnectListeners.add(listener);
	}

	/** Whether the listening connection is up (readiness reports it). */
	get connected(): boolean {
		return this.client !== null;
	}

	async start(): Promise<void> {
		await this.connect();
		this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
		this.pingTimer.unref();
	}

	private async connect(): Promise<void> {
		const client = new pg.Client({ ...connectionSettings(this.limits), connectionString: this.connectionString });
		client.on('error', (error) => this.reconnect(client, error));
		client.on('end', () => this.reconnect(client));
		client.on('notification', (message) => {
			const topic = message.channel.slice(this.schema.length + 1) as Topic;
			const own = this.isOwnBackend(message.processId);
			for (const listener of this.listeners.get(topic) ?? []) listener(message.payload ?? '', own);
		});
		try {
			await client.connect();
			for (const topic of ALWAYS_LISTENED) {
				await client.query(`LISTEN ${quoteIdent(channelName(this.schema, topic))}`);
			}
		} catch (error) {
			// A connection that came up but could not LISTEN is closed here, not left open and unused.
			await client.end().catch(() => undefined);
			throw error;
		}
		if (this.stopped) {
			await client.end().catch(() => undefined);
			return;
		}
		this.client = client;
		// Sent after `client` is set, so a `listen` that came while connecting is not missed (a repeat is harmless).
		for (const [topic, wanted] of this.onDemand) if (wanted > 0) this.send(`LISTEN ${quoteIdent(channelName(this.schema, topic))}`);
	}

	/** A query on the listening connection: one that fails or never answers means the connection is gone. */
	private ping(): void {
		const client = this.client;
		if (!client || this.stopped) return;
		client.query('SELECT 1').catch((error: Error) => this.reconnect(client, error));
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
						if (this.stopped) return;
						this.log.info('notification connection restored');
						for (const listener of this.reconnectListeners) listener();
					},
					() => attempt(Math.min(delay * 2, 2_000)),
				);
			}, delay);
		};
		attempt(200);
	}

	async stop(): Promise<void> {
		this.stopped = true;
		if (this.retryTimer) clearTimeout(this.retryTimer);
		if (this.pingTimer) clearInterval(this.pingTimer);
		const client = this.client;
		this.client = null;
		await client?.end().catch(() => undefined);
	}
}
