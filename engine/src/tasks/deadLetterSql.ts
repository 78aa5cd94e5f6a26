import type { Queryable } from '../db/pool.js';

/**
 * Dead letters are `failed` tasks. Their error signature groups failures with the same cause: the
 * status code (or error class) plus the error message with ids and numbers masked, hashed short.
 */
const SIGNATURE = `'sig_' || left(md5(COALESCE(t.last_status_code::text, t.last_error_class, '') || '|' ||
  regexp_replace(COALESCE(t.last_error, ''), '[0-9a-fA-F-]{8,}|[0-9]+', '#', 'g')), 12)`;

export interface DeadLetterSelector {
	queue?: string;
	ids?: string[];
	signature?: string;
}

const WHERE = `t.state = 'failed'
  AND ($1::text IS NULL OR t.queue = $1)
  AND ($2::uuid[] IS NULL OR t.id = ANY($2))
  AND ($3::text IS NULL OR ${SIGNATURE} = $3)`;

function params(s: DeadLetterSelector): unknown[] {
	return [s.queue ?? null, s.ids ?? null, s.signature ?? null];
}

export interface DeadLetterGroup {
	signature: string;
	queue: string;
	statusCode: number | null;
	errorClass: string | null;
	message: string;
	count: number;
	firstAt: Date;
	lastAt: Date;
	taskIds: string[];
}

export async function groupDeadLetters(db: Queryable, s: DeadLetterSelector): Promise<DeadLetterGroup[]> {
	const { rows } = await db.query<DeadLetterGroup>(
		`SELECT sig AS signature, queue, max(status) AS "statusCode", max(class) AS "errorClass", (array_agg(message ORDER BY finished_at DESC))[1] AS message,
		   count(*)::int AS count, min(finished_at) AS "firstAt", max(finished_at) AS "lastAt",
		   (array_agg(id ORDER BY finished_at DESC, id DESC))[1:100] AS "taskIds"
		 FROM (
		   SELECT ${SIGNATURE} AS sig, t.queue, t.last_status_code AS status, t.last_error_class AS class,
		     COALESCE(t.last_error, '') AS message, t.finished_at, t.id
		   FROM tasks t WHERE ${WHERE}
		 ) f
		 GROUP BY sig, queue
		 ORDER BY count(*) DESC, max(finished_at) DESC`,
		params(s),
	);
	return rows;
}

/** Ids of matching dead letters, oldest failure first, at most `limit`. */
export async function selectDeadLetterIds(db: Queryable, s: DeadLetterSelector, limit: number): Promise<string[]> {
	const { rows } = await db.query<{ id: string }>(
		`SELECT t.id FROM tasks t WHERE ${WHERE} ORDER BY t.finished_at, t.id LIMIT $4`,
		[...params(s), limit],
	);
	return rows.map((r) => r.id);
}

export async function countDeadLetters(db: Queryable, s: DeadLetterSelector): Promise<number> {
	const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tasks t WHERE ${WHERE}`, params(s));
	return rows[0].n;
}

export async function deleteDeadLetters(db: Queryable, s: DeadLetterSelector): Promise<number> {
	const { rowCount } = await db.query(`DELETE FROM tasks t WHERE ${WHERE}`, params(s));
	return rowCount ?? 0;
}
