import type { FieldProblem } from '../errors.js';

/**
 * Text PostgreSQL cannot store is refused at the door. PostgreSQL rejects a NUL (U+0000) in `text`
 * and `jsonb`, and a UTF-16 surrogate half without its partner in `jsonb`; JSON lets a client send
 * both (`"\u0000"`, `"\ud800"`), in any value or key. Such a request used to fail in the middle of
 * its write, as a 500. Every string and key of the parsed body, query string and path parameters is
 * checked before validation instead, and the answer is a 400 naming the exact field
 * (`payload.a.b`, `tasks[3].name`, `querystring.name`).
 *
 * The walk is iterative: a 1 MiB body can nest half a million levels, far past the call stack
 * (how deep a payload may nest is the validator's business, see PAYLOAD_MAX_DEPTH).
 */

/** A NUL, or a surrogate half without its partner. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** At most this many problems are reported; one is enough to fix, a few help. */
const MAX_PROBLEMS = 10;

export function isStorableText(text: string): boolean {
	return !UNSTORABLE.test(text);
}

function describe(text: string): string {
	return text.includes('\u0000') ? 'contains a NUL character (U+0000)' : 'contains a lone UTF-16 surrogate (not valid Unicode)';
}

/** A path step: `.name` for plain keys, `["odd key"]` (JSON-quoted, so printable) for the rest. */
function step(parent: string, key: string | number): string {
	if (typeof key === 'number') return `${parent}[${key}]`;
	if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return parent === '' ? key : `${parent}.${key}`;
	return `${parent}[${JSON.stringify(key)}]`;
}

/** Paths are built only for what is reported: a node remembers its parent and its key. */
interface Node {
	value: unknown;
	parent: Node | null;
	key: string | number | null;
}

function pathOf(node: Node, root: string): string {
	const keys: (string | number)[] = [];
	for (let n: Node | null = node; n !== null && n.key !== null; n = n.parent) keys.push(n.key);
	let path = root;
	for (let i = keys.length - 1; i >= 0; i--) path = step(path, keys[i]);
	return path === '' ? 'body' : path;
}

/**
 * Every string or key under `value` that PostgreSQL could not store (at most 10), as field problems.
 * `root` prefixes the paths: '' for the body, `querystring` or `params` for the others.
 */
export function findUnstorableText(value: unknown, root: string): FieldProblem[] {
	const problems: FieldProblem[] = [];
	const report = (node: Node, text: string) => {
		const field = pathOf(node, root);
		problems.push({ field, message: `${field} ${describe(text)}` });
	};
	const stack: Node[] = [{ value, parent: null, key: null }];
	while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
		const node = stack.pop() as Node;
		const v = node.value;
		if (typeof v === 'string') {
			if (UNSTORABLE.test(v)) report(node, v);
		} else if (Array.isArray(v)) {
			for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: node, key: i });
		} else if (v !== null && typeof v === 'object') {
			const keys = Object.keys(v);
			for (let i = keys.length - 1; i >= 0; i--) {
				const child: Node = { value: (v as Record<string, unknown>)[keys[i]], parent: node, key: keys[i] };
				if (UNSTORABLE.test(keys[i])) report(child, keys[i]);
				else stack.push(child);
			}
		}
	}
	return problems;
}

/**
 * A body sent to a route that takes none (cancel, pause, run, …): nothing or `{}` is fine, anything
 * else is refused like an unknown field, so a client's mistake is said instead of silently ignored.
 */
export function findUnexpectedBody(body: unknown): FieldProblem[] {
	if (body === undefined || body === null) return [];
	if (typeof body === 'object' && !Array.isArray(body)) {
		return Object.keys(body)
			.slice(0, MAX_PROBLEMS)
			.map((key) => {
				const field = step('', key);
				return { field, message: `${field} is not a known field (this route takes no body)` };
			});
	}
	return [{ field: 'body', message: 'body must be empty: this route takes no body' }];
}

/**
 * Query values whose %-encoding is broken (`%zz`, or bytes that are not UTF-8 such as `%ED%A0%80`).
 * Fastify's query parser keeps such a value as the raw text, so a filter would silently look for
 * `%ED%A0%80`; it is refused instead, like broken encoding in the path.
 */
export function findBrokenQueryEncoding(url: string): FieldProblem[] {
	const start = url.indexOf('?');
	if (start === -1) return [];
	const problems: FieldProblem[] = [];
	for (const pair of url.slice(start + 1).split('&')) {
		const eq = pair.indexOf('=');
		const rawKey = eq === -1 ? pair : pair.slice(0, eq);
		if (decodes(rawKey) && (eq === -1 || decodes(pair.slice(eq + 1)))) continue;
		const field = step('querystring', decodes(rawKey) ? decodeURIComponent(rawKey.replace(/\+/g, ' ')) : rawKey);
		problems.push({ field, message: `${field} is not valid percent-encoding (%XX of UTF-8 bytes)` });
		if (problems.length >= MAX_PROBLEMS) break;
	}
	return problems;
}

function decodes(text: string): boolean {
	try {
		decodeURIComponent(text.replace(/\+/g, ' '));
		return true;
	} catch {
		return false;
	}
}
