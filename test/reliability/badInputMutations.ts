/**
 * What the bad-input fuzzer sends, worked out from an OpenAPI document: a small reader of its
 * schemas, and the bad values, bodies, query values, cursors and content types built from them.
 * Every value produced is refused by the schema it is meant for, or by a rule of the contract.
 */

// ---------------------------------------------------------------------------------------------
// A small reader of the document's schemas: does a value satisfy a schema? Keywords it does not
// know pass, so it can only err towards "valid" — and a value it calls valid is never sent as bad.

export type Schema = {
	type?: string;
	nullable?: boolean;
	anyOf?: Schema[];
	enum?: unknown[];
	minimum?: number;
	maximum?: number;
	exclusiveMinimum?: number;
	exclusiveMaximum?: number;
	minLength?: number;
	maxLength?: number;
	pattern?: string;
	format?: string;
	items?: Schema;
	minItems?: number;
	maxItems?: number;
	properties?: Record<string, Schema>;
	required?: string[];
	additionalProperties?: boolean | Schema;
	'x-bounded-nesting'?: boolean;
};

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function accepts(schema: Schema | undefined, value: unknown): boolean {
	if (schema === undefined) return true;
	if (value === null && schema.nullable === true) return true;
	if (schema.anyOf && !schema.anyOf.some((s) => accepts(s, value))) return false;
	if (schema.enum && !schema.enum.some((e) => e === value)) return false;
	switch (schema.type) {
		case undefined:
			break;
		case 'string':
			if (typeof value !== 'string') return false;
			break;
		case 'integer':
			if (!Number.isInteger(value)) return false;
			break;
		case 'number':
			if (typeof value !== 'number' || !Number.isFinite(value)) return false;
			break;
		case 'boolean':
			if (typeof value !== 'boolean') return false;
			break;
		case 'array':
			if (!Array.isArray(value)) return false;
			break;
		case 'object':
			if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
			break;
		case 'null':
			if (value !== null) return false;
			break;
	}
	if (typeof value === 'string') {
		const length = [...value].length;
		if (schema.minLength !== undefined && length < schema.minLength) return false;
		if (schema.maxLength !== undefined && length > schema.maxLength) return false;
		if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return false;
		if (schema.format === 'uuid' && !UUID.test(value)) return false;
		if (schema.format === 'date-time' && !/^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d/.test(value)) return false;
	}
	if (typeof value === 'number') {
		if (schema.minimum !== undefined && value < schema.minimum) return false;
		if (schema.maximum !== undefined && value > schema.maximum) return false;
		if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return false;
		if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return false;
	}
	if (Array.isArray(value)) {
		if (schema.minItems !== undefined && value.length < schema.minItems) return false;
		if (schema.maxItems !== undefined && value.length > schema.maxItems) return false;
		if (schema.items && !value.every((v) => accepts(schema.items, v))) return false;
	}
	if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
		const record = value as Record<string, unknown>;
		for (const key of schema.required ?? []) if (!(key in record)) return false;
		for (const [key, v] of Object.entries(record)) {
			const own = schema.properties?.[key];
			if (own !== undefined) {
				if (!accepts(own, v)) return false;
			} else if (schema.additionalProperties === false) {
				return false;
			} else if (typeof schema.additionalProperties === 'object' && !accepts(schema.additionalProperties, v)) {
				return false;
			}
		}
	}
	return true;
}


/** Bad values for one value of `schema`, each refused by the schema itself or by the contract. */
export function badValues(schema: Schema, good: unknown, closedUrl: string, maxDepth: number): { kind: string; value: unknown; raw?: string }[] {
	const out: { kind: string; value: unknown; raw?: string }[] = [];
	const overlong = 'x'.repeat((schema.maxLength ?? 60_000) + 1);
	const tooMany = schema.maxItems !== undefined ? Array.from({ length: schema.maxItems + 1 }, () => (Array.isArray(good) ? good[0] : good)) : undefined;
	const candidates: [string, unknown][] = [
		['wrong type: boolean', true],
		['wrong type: string', 'text'],
		['wrong type: number', 12345],
		['wrong type: array', [1]],
		['wrong type: object', { a: 1 }],
		['wrong type: null', null],
		['negative number', -1],
		['huge negative number', -1e308],
		['huge number', 1e308],
		['beyond 2^63', 2 ** 63],
		['fraction', 0.5],
		['empty string', ''],
		['overlong string', overlong],
		['pattern breaker', ' spaces / slashes \t'],
		['dot-dot', '..'],
		['bad date-time', '2026-13-45T99:99:99Z'],
		['urn uuid', 'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8'],
		['empty array', []],
		['too many items', tooMany],
	];
	for (const [kind, value] of candidates) if (value !== undefined && !accepts(schema, value)) out.push({ kind, value });
	const base = typeof good === 'string' ? good : 'value';
	const takesText = schema.type === 'string' || schema.type === undefined || schema.anyOf?.some((s) => s.type === 'string');
	if (takesText) {
		out.push({ kind: 'NUL in a string', value: `${base}\u0000` });
		out.push({ kind: 'lone high surrogate', value: `${base}\ud800` });
		out.push({ kind: 'lone low surrogate', value: `${base}\udc00` });
	}
	if (schema.type === 'number' || schema.type === 'integer') {
		if (schema.maximum === undefined) out.push({ kind: 'number beyond JSON doubles', value: 0, raw: '1e999' });
		out.push({ kind: 'number beyond JSON doubles (negative)', value: 0, raw: '-1e999' });
	}
	if (schema.type === undefined || schema['x-bounded-nesting']) {
		// Free JSON: what only the screen and the nesting bound refuse.
		out.push({ kind: 'NUL in a key', value: { 'key\u0000': 1 } });
		out.push({ kind: 'lone surrogate in a key', value: { '\ud83dkey': 1 } });
		out.push({ kind: 'NUL deep inside', value: { a: [{ b: ['ok', 'bad\u0000'] }] } });
		out.push({ kind: 'nested 10,000 levels', value: 0, raw: '['.repeat(10_000) + ']'.repeat(10_000) });
		out.push({ kind: `nested ${maxDepth + 1} levels`, value: 0, raw: '['.repeat(maxDepth + 1) + ']'.repeat(maxDepth + 1) });
	}
	if (typeof good === 'string' && good.startsWith(closedUrl)) {
		// Refused by the contract, not the schema: credentials, not a URL.
		out.push({ kind: 'url: credentials', value: good.replace('http://', 'http://user:pw@') });
		out.push({ kind: 'url: not a url', value: 'not a url' });
	}
	return out;
}

/** Contract rules no schema states, by field name: each value is refused by the service. */
export const SEMANTIC_BAD: Record<string, unknown[]> = {
	delaySeconds: [1e308, 400 * 86400],
	runAt: ['9999-12-31T00:00:00Z', '2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z'],
	startAt: ['0000-01-01T00:00:00Z'],
	endAt: ['0000-12-31T00:00:00Z'],
	cron: ['not a cron', '61 * * * *', '* * * * * * * *'],
	timezone: ['Mars/Olympus_Mons', 'UTC+99'],
	everySeconds: [0],
};

/** Marks a JSON text spot to be replaced by a raw literal JSON.stringify cannot produce. */
export const RAW_MARK = '\u0001RAW\u0001';

export function jsonText(body: unknown, raw?: string): Buffer {
	const text = JSON.stringify(body);
	return Buffer.from(raw === undefined ? text : text.replace(JSON.stringify(RAW_MARK), raw));
}

/** A copy of `body` with the value at `path` replaced (or removed, for `undefined`). */
export function withValue(body: unknown, path: (string | number)[], value: unknown): unknown {
	const copy = structuredClone(body) as Record<string | number, unknown>;
	let node = copy;
	for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
	const last = path[path.length - 1];
	if (value === undefined) delete node[last];
	else node[last] = value;
	return copy;
}

export function fieldName(path: (string | number)[]): string {
	let out = '';
	for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
	return out;
}

/** Mutations of a JSON body, walking its schema from `path`: each makes exactly one field bad. */
export function bodyMutations(schema: Schema, body: unknown, path: (string | number)[], ctx: { closedUrl: string; maxDepth: number }): { kind: string; body: Buffer; field: string }[] {
	const out: { kind: string; body: Buffer; field: string }[] = [];
	const here = path.reduce<unknown>((node, key) => (node === undefined || node === null ? undefined : (node as Record<string | number, unknown>)[key]), body);
	const field = fieldName(path);
	if (path.length > 0) {
		for (const bad of badValues(schema, here, ctx.closedUrl, ctx.maxDepth)) {
			out.push({ kind: bad.kind, body: jsonText(withValue(body, path, bad.raw === undefined ? bad.value : RAW_MARK), bad.raw), field });
		}
		const name = path[path.length - 1];
		for (const value of typeof name === 'string' ? (SEMANTIC_BAD[name] ?? []) : []) {
			out.push({ kind: `contract: ${name}`, body: jsonText(withValue(body, path, value)), field });
		}
	}
	if (path.length >= 4) return out;
	if (here !== null && typeof here === 'object' && !Array.isArray(here) && schema.properties) {
		for (const key of schema.required ?? []) {
			if (key in here) out.push({ kind: 'missing required field', body: jsonText(withValue(body, [...path, key], undefined)), field: fieldName([...path, key]) });
		}
		if (schema.additionalProperties === false) {
			out.push({ kind: 'unknown field', body: jsonText(withValue(body, [...path, 'zzUnknown'], 1)), field: fieldName([...path, 'zzUnknown']) });
		}
		for (const [key, propSchema] of Object.entries(schema.properties)) out.push(...bodyMutations(propSchema, body, [...path, key], ctx));
	}
	if (Array.isArray(here) && here.length > 0 && schema.items) out.push(...bodyMutations(schema.items, body, [...path, 0], ctx));
	return out;
}

/** A value the schema accepts, for routes without a hand-written baseline (new routes stay covered). */
export function sample(schema: Schema, closedUrl: string): unknown {
	if (schema.enum) return schema.enum[0];
	if (schema.anyOf) return sample(schema.anyOf[0], closedUrl);
	switch (schema.type) {
		case 'string':
			return schema.format === 'uuid' ? '6ba7b810-9dad-11d1-80b4-00c04fd430c8' : schema.format === 'date-time' ? '2030-01-01T00:00:00Z' : 'fz';
		case 'integer':
		case 'number':
			return schema.minimum ?? 1;
		case 'boolean':
			return true;
		case 'array':
			return [sample(schema.items ?? {}, closedUrl)];
		case 'object':
			return Object.fromEntries((schema.required ?? []).map((k) => [k, sample(schema.properties?.[k] ?? {}, closedUrl)]));
		default:
			return { fz: 1 };
	}
}

/** Query values, as sent; only those the parameter's schema (or the screen) refuses are used. */
export function badQueryValues(schema: Schema): string[] {
	const candidates = ['abc', '-1', '0', '1.5', '1e309', '99999999999999999999', '', '..', 'a%20b', 'maybe', 'x'.repeat(5000), '%F0%9F%98%80x'];
	const coerceTo = (target: Schema, text: string): unknown => {
		if ((target.type === 'integer' || target.type === 'number') && text !== '' && !Number.isNaN(Number(text))) return Number(text);
		if (target.type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
		return text;
	};
	// The server coerces query strings as Ajv's coerceTypes "array" does: one value of an array parameter is a list of one.
	const coerce = (text: string): unknown => (schema.type === 'array' && schema.items ? [coerceTo(schema.items, text)] : coerceTo(schema, text));
	const refused = candidates.filter((c) => !accepts(schema, coerce(decodeURIComponent(c))));
	return [...refused, '%00', `ok%00`, '%ED%A0%80', '%zz', '%E2%82'];
}

export function badCursors(random: () => number): string[] {
	const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
	const junk = Array.from({ length: 4 }, () => Buffer.from(Array.from({ length: 24 }, () => Math.floor(random() * 256))).toString('base64url'));
	return [
		...junk,
		b64({ t: 'garbage', i: '6ba7b810-9dad-11d1-80b4-00c04fd430c8' }),
		b64({ t: '99999999999999999999', i: '6ba7b810-9dad-11d1-80b4-00c04fd430c8' }),
		b64({ t: '1700000000000000', i: '------------------------------------' }),
		b64({ c: '2026-01-01T00:00:00.000Z', i: 'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8' }),
		b64({ n: 'a\u0000' }),
		b64({ n: '\ud800' }),
		b64({ n: 'a/b' }),
		b64({ n: 'x'.repeat(300) }),
		b64({ n: ['list'] }),
		b64('a\u0000'),
		b64('null'),
		b64('[1,2]'),
		'%00',
		'!!!not-base64!!!',
	].map((c) => (c.startsWith('%') ? c : encodeURIComponent(c)));
}

export const MALFORMED_JSON: [string, Buffer][] = [
	['truncated object', Buffer.from('{"name": ')],
	['missing value', Buffer.from('{"a":}')],
	['single quotes', Buffer.from("{'a':1}")],
	['trailing comma', Buffer.from('[1,]')],
	['two documents', Buffer.from('{"a":1}{"b":2}')],
	['bare word', Buffer.from('nul')],
	['BOM then garbage', Buffer.from('\ufeff{')],
	['raw NUL byte in a string', Buffer.from('{"name":"a\u0000b"}')],
	['raw control character in a string', Buffer.from('{"name":"a\u0001b"}')],
	['bytes that are not UTF-8', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
	['CESU-8 surrogate bytes', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
	['truncated UTF-8 sequence', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')])],
	['unclosed 10,000-level array', Buffer.from('['.repeat(10_000))],
	['__proto__ key', Buffer.from('{"__proto__":{"polluted":true}}')],
	['constructor.prototype key', Buffer.from('{"constructor":{"prototype":{"polluted":true}}}')],
	['UTF-16 text', Buffer.from('{"a":1}', 'utf16le')],
];

export const WRONG_CONTENT_TYPES = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=zz', 'application/octet-stream', 'application/jsonx', 'text/json'];
