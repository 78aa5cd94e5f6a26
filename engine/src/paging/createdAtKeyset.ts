/**
 * The keyset position of a newest-first list ordered by `(created_at, id)`: tasks and batches.
 *
 * The position has to be exact. PostgreSQL keeps `created_at` to the microsecond, and every row a
 * transaction writes shares it (`now()` is the transaction's start: the 1,000 tasks of one bulk have
 * one timestamp). A JavaScript `Date` keeps milliseconds, so a position read back through one sat
 * before the rest of its own bulk and the next page skipped them. The position therefore never
 * leaves SQL's hands as a time: PostgreSQL turns `created_at` into whole microseconds since the
 * epoch, the cursor carries that integer as text, and PostgreSQL turns it back; `id` breaks ties.
 */
export interface CreatedAtPosition {
	/** `created_at` in whole microseconds since 1970-01-01 UTC, as a decimal string. */
	micros: string;
	id: string;
}

/**
 * SQL for `column` as microseconds since the epoch (text). Whole seconds and the microseconds within
 * the second are taken apart because `EXTRACT(EPOCH …)` is a float before PostgreSQL 14, too coarse
 * for 16 digits.
 */
export function createdAtMicrosSql(column: string): string {
	return `(EXTRACT(EPOCH FROM date_trunc('second', ${column}))::bigint * 1000000 + EXTRACT(MICROSECONDS FROM ${column})::bigint % 1000000)::text`;
}

/**
 * SQL condition: the row `(createdColumn, idColumn)` comes after the position given by the
 * parameters `microsParam` (bigint, NULL for the first page) and `idParam` in newest-first order.
 * The timestamp is rebuilt by PostgreSQL (an exact integer number of microseconds), and the row
 * comparison keeps the `(created_at DESC, id DESC)` indexes usable.
 */
export function beforePositionSql(createdColumn: string, idColumn: string, microsParam: string, idParam: string): string {
	return `(${microsParam}::bigint IS NULL OR (${createdColumn}, ${idColumn}) < (timestamptz 'epoch' + ${microsParam}::bigint * interval '1 microsecond', ${idParam}::uuid))`;
}
