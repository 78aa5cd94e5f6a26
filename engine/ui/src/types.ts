/**
 * The API's shapes as the dashboard reads them (/openapi.json is the reference; live events: docs/architecture.md).
 * Only the fields the views use; the engine may send more.
 */

export type Scope = 'admin' | 'write' | 'read';

export const TASK_STATES = ['scheduled', 'queued', 'active', 'retrying', 'completed', 'failed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface Page<T> {
	items: T[];
	nextCursor: string | null;
}

export interface StateCounts {
	scheduled: number;
	queued: number;
	active: number;
	retrying: number;
	completed: number;
	failed: number;
	cancelled: number;
}

export interface Percentiles {
	p50: number | null;
	p95: number | null;
	p99: number | null;
}

export interface QueueHealth {
	queue: string;
	status: 'ok' | 'warning' | 'critical';
	reasons: { code: string; message: string }[];
	counts: StateCounts;
	deadLetters: number;
	oldestQueuedAgeSeconds: number;
	stuck: { count: number; taskIds: string[] };
	failuresLastHour: number;
	throughputPerMinute: { last5m: number; last60m: number };
	durationMs: Percentiles;
	latenessMs: Percentiles;
	handlers: { count: number; healthy: number; successRate: number | null };
	paused: boolean;
}

export interface AllQueuesHealth {
	queues: QueueHealth[];
}

export interface Queue {
	name: string;
	paused: boolean;
	concurrency: number;
}

/** `GET /v1/queues/{name}/history`: one point per minute, oldest first. */
export interface HistoryPoint {
	at: string;
	completed: number;
	failed: number;
	retried: number;
	latenessMsP50: number | null;
	latenessMsP95: number | null;
}

export interface QueueHistory {
	queue: string;
	minutes: number;
	points: HistoryPoint[];
}

export interface Attempt {
	number: number;
	startedAt: string;
	durationMs: number | null;
	outcome?: string;
	statusCode: number | null;
	errorClass: string | null;
	error: string | null;
	responseSnippet: string | null;
}

export interface Task {
	id: string;
	queue: string;
	name: string;
	state: TaskState;
	payload: unknown;
	priority: number;
	timeoutSeconds: number;
	maxAttempts: number;
	dueAt: string;
	createdAt: string;
	startedAt: string | null;
	finishedAt: string | null;
	attemptCount: number;
	result: unknown;
	lastError: string | null;
	idempotencyKey: string | null;
	url: string | null;
	batch?: { id: string; chunkIndex: number; totalChunks: number };
	schedule?: { id: string; name: string; occurrence: string };
	/** Async completion (docs/async-completion.md); absent on engines without it. */
	deadlineAt?: string | null;
	progress?: { percent: number | null; message: string | null; updatedAt: string } | null;
	attempts?: Attempt[];
}

export interface DeadLetterGroup {
	signature: string;
	queue: string;
	statusCode: number | null;
	errorClass: string | null;
	message: string;
	count: number;
	firstAt: string;
	lastAt: string;
	taskIds: string[];
}

export interface Schedule {
	id: string;
	name: string;
	queue: string;
	taskName: string;
	cron: string | null;
	everySeconds: number | null;
	timezone: string;
	paused: boolean;
	nextFireAt: string | null;
	lastFireAt: string | null;
	misfire: string;
	overlap: string;
}

export type BatchState = 'open' | 'running' | 'completed' | 'completed_with_failures' | 'failed' | 'cancelled';

export interface Batch {
	id: string;
	queue: string;
	name: string;
	state: BatchState;
	totalItems: number;
	totalChunks: number;
	items: { processed: number; failed: number };
	chunks: { completed: number; failed: number; active: number; pending: number; cancelled?: number };
	createdAt: string;
	startedAt: string | null;
	finishedAt: string | null;
	throughputPerSecond: number | null;
	etaSeconds: number | null;
}

/** `task.state` on the event stream. */
export interface TaskStateEvent {
	id: string;
	queue: string;
	name: string;
	state: TaskState;
	attempt: number;
	at: string;
}

/** `queue.stats` on the event stream: one per queue every 2 s. */
export interface QueueStatsEvent {
	queue: string;
	counts?: Partial<StateCounts>;
	deadLetters?: number;
	paused?: boolean;
	throughputPerMinute?: { last5m?: number; last60m?: number };
}
