import type { Queryable } from '../db/pool.js';

export interface AttemptRow {
	number: number;
	startedAt: Date;
	durationMs: number | null;
	outcome: 'delivered' | 'retry' | 'failed';
	statusCode: number | null;
	errorClass: string | null;
	error: string | null;
	responseSnippet: string | null;
	handlerId: string | null;
}

export interface NewAttempt {
	taskId: string;
	queue: string;
	number: number;
	startedAt: string;
	/** The task's due time when this attempt was claimed (for lateness); null when unknown. */
	dueAt: string | null;
	durationMs: number | null;
	outcome: AttemptRow['outcome'];
	statusCode: number | null;
	errorClass: string | null;
	error: string | null;
	responseSnippet: string | null;
	handlerId: string | null;
}

/** Records attempts in one statement; an attempt already recorded (by the rescuer, say) is kept as it is. */
export async function insertAttempts(db: Queryable, attempts: readonly NewAttempt[]): Promise<void> {
	if (attempts.length === 0) return;
	await db.query(
		`INSERT INTO attempts (task_id, queue, number, started_at, due_at, duration_ms, outcome, status_code, error_class, error, response_snippet, handler_id)
		 SELECT "taskId", queue, number, "startedAt", "dueAt", "durationMs", outcome, "statusCode", "errorClass", error, "responseSnippet", "handlerId"
		 FROM jsonb_to_recordset($1::jsonb) AS x("taskId" uuid, queue text, number int, "startedAt" timestamptz, "dueAt" timestamptz, "durationMs" int,
		   outcome text, "statusCode" int, "errorClass" text, error text, "responseSnippet" text, "handlerId" uuid)
		 ON CONFLICT (task_id, number) DO NOTHING`,
		[JSON.stringify(attempts)],
	);
}

export async function listAttempts(db: Queryable, taskId: string): Promise<AttemptRow[]> {
	const { rows } = await db.query<AttemptRow>(
		`SELECT number, started_at AS "startedAt", duration_ms AS "durationMs", outcome, status_code AS "statusCode",
		   error_class AS "errorClass", error, response_snippet AS "responseSnippet", handler_id AS "handlerId"
		 FROM attempts WHERE task_id = $1 ORDER BY number`,
		[taskId],
	);
	return rows;
}
