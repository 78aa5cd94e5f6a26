import { invalidField } from '../errors.js';
import type { CreatedAtPosition } from '../paging/createdAtKeyset.js';
import { isStorableText } from './inputScreen.js';
import { SCHEDULE_NAME_PATTERN } from './schemas/common.js';

/**
 * Paging cursors: base64url of a small JSON object, so clients cannot come to depend on their
 * contents. A cursor is decoded strictly: every value is checked to be one this API could have put
 * there before it reaches SQL, so a forged or damaged cursor is a 400 naming `cursor`, never a
 * database error.
 */

function encode(value: Record<string, string>): string {
	return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decode(cursor: string): Record<string, unknown> {
	try {
		const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
		if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
	} catch {
		// reported below
	}
	throw notACursor();
}

function notACursor() {
	return invalidField('cursor', 'is not a cursor this API returned');
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Microseconds since the epoch: PostgreSQL rebuilds a timestamp from it, so it must stay in range. */
const MICROS = /^\d{1,16}$/;

/** Tasks and batches: the exact (created_at, id) of the last item of the page. */
export function encodeCreatedAtCursor(position: CreatedAtPosition | null): string | null {
	return position === null ? null : encode({ t: position.micros, i: position.id });
}

export function decodeCreatedAtCursor(cursor: string | undefined): CreatedAtPosition | null {
	if (cursor === undefined) return null;
	const { t, i } = decode(cursor);
	if (typeof t === 'string' && MICROS.test(t) && Number.isSafeInteger(Number(t)) && typeof i === 'string' && CANONICAL_UUID.test(i)) {
		return { micros: t, id: i };
	}
	throw notACursor();
}

/** Queue names of `.` and `..` are no longer created but may exist from before: the character rule alone. */
const QUEUE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SCHEDULE_NAME = new RegExp(SCHEDULE_NAME_PATTERN, 'u');

/** Queues and schedules are listed by their unique name: the cursor is the last name of the page. */
export function encodeNameCursor(name: string | null): string | null {
	return name === null ? null : encode({ n: name });
}

/** The name a cursor holds, if it is a name of that kind. */
export function decodeNameCursor(cursor: string | undefined, kind: 'queue' | 'schedule'): string | null {
	if (cursor === undefined) return null;
	const { n } = decode(cursor);
	const ok = typeof n === 'string' && (kind === 'queue' ? QUEUE_NAME.test(n) : SCHEDULE_NAME.test(n) && isStorableText(n) && [...n].length <= 200);
	if (!ok) throw notACursor();
	return n;
}
