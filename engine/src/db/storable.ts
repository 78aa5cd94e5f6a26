/**
 * What PostgreSQL cannot store, made storable. Handlers answer whatever bytes they like, and their
 * answers are kept (a task's result, an attempt's snippet and error), but PostgreSQL refuses a NUL
 * character in `text` and `jsonb` (`\u0000` is an "unsupported Unicode escape sequence") and a lone
 * UTF-16 surrogate in `jsonb`. One such answer must never make a write fail — a failed group write
 * would undo its neighbours' results too — so both become U+FFFD (the replacement character), the
 * same thing a UTF-8 decoder does with invalid bytes. Everything else is kept as it was.
 */

const REPLACEMENT = '\uFFFD';
/** A NUL, or a surrogate half without its partner. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** Text that PostgreSQL stores as it is. */
export function storableText(text: string): string;
export function storableText(text: string | null): string | null;
export function storableText(text: string | null): string | null {
	if (text === null || !UNSTORABLE.test(text)) return text;
	return text.replace(UNSTORABLE_ALL, REPLACEMENT);
}

/** Deeper results are not kept as JSON (PostgreSQL's parser and ours would recurse that deep). */
export const MAX_STORED_DEPTH = 100;

/**
 * A JSON value that PostgreSQL's `jsonb` accepts: strings and keys cleaned as by `storableText`, or
 * `undefined` when it is nested deeper than `maxDepth` (a 16 KiB answer can nest 16,000 levels).
 * Values that need nothing (nearly all) are returned as they are, without a copy.
 */
export function storableJson(value: unknown, maxDepth = MAX_STORED_DEPTH): unknown {
	const verdict = scan(value, 0, maxDepth);
	if (verdict === 'deep') return undefined;
	return verdict === 'dirty' ? clean(value) : value;
}

/** Walks at most `maxDepth` levels: recursion stays shallow whatever the input. */
function scan(value: unknown, depth: number, maxDepth: number): 'clean' | 'dirty' | 'deep' {
	if (typeof value === 'string') return UNSTORABLE.test(value) ? 'dirty' : 'clean';
	if (value === null || typeof value !== 'object') return 'clean';
	if (depth >= maxDepth) return 'deep';
	let verdict: 'clean' | 'dirty' = 'clean';
	const entries: [string | null, unknown][] = Array.isArray(value) ? value.map((v) => [null, v]) : Object.entries(value);
	for (const [key, v] of entries) {
		if (key !== null && UNSTORABLE.test(key)) verdict = 'dirty';
		const inner = scan(v, depth + 1, maxDepth);
		if (inner === 'deep') return 'deep';
		if (inner === 'dirty') verdict = 'dirty';
	}
	return verdict;
}

function clean(value: unknown): unknown {
	if (typeof value === 'string') return storableText(value);
	if (value === null || typeof value !== 'object') return value;
	if (Array.isArray(value)) return value.map(clean);
	const out: Record<string, unknown> = {};
	for (const [key, v] of Object.entries(value)) out[storableText(key)] = clean(v);
	return out;
}
