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
	/** The handler's report that closed the attempt, when one did. */
	report: 'complete' | 'fail' | null;
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
	report: 'complete' | 'fail' | null;
}

export async function listAttempts(db: Queryable, taskId: string): Promise<AttemptRow[]> {
	const { rows } = await db.query<AttemptRow>(
		`SELECT number, started_at AS "startedAt", duration_ms AS "durationMs", outcome, status_code AS "statusCode",
		   error_class AS "errorClass", error, response_snippet AS "responseSnippet", handler_id AS "handlerId", report
		 FROM attempts WHERE task_id = $1 ORDER BY number`,
		[taskId],
	);
	return rows;
}
