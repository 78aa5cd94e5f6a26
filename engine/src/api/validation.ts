import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FieldProblem } from '../errors.js';
import { BOUNDED_NESTING, PATTERN_MESSAGES, UUID_PATTERN } from './schemas/common.js';

export interface ValidationOptions {
	/** Deepest nesting of a free-form JSON field (PAYLOAD_MAX_DEPTH). */
	payloadMaxDepth: number;
}

/** Whether `value` nests objects and arrays deeper than `limit`; iterative, and stops at the first too deep. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
	const stack: [unknown, number][] = [[value, 0]];
	while (stack.length > 0) {
		const [v, depth] = stack.pop() as [unknown, number];
		if (v === null || typeof v !== 'object') continue;
		if (depth + 1 > limit) return true;
		for (const child of Object.values(v)) stack.push([child, depth + 1]);
	}
	return false;
}

/**
 * Bodies are validated strictly: no type coercion (`"5"` is not a delay), no silent removal of
 * unknown fields (they are rejected). Query strings and path parameters arrive as text, so they
 * alone are coerced.
 */
function createAjv(coerce: boolean, options: ValidationOptions): Ajv {
	const ajv = new Ajv({
		allErrors: true,
		coerceTypes: coerce ? 'array' : false,
		removeAdditional: false,
		useDefaults: true,
		strict: false,
	});
	(addFormats as unknown as (a: Ajv) => void)(ajv);
	// ajv-formats' uuid also takes `urn:uuid:…`; PostgreSQL takes (and this API writes) the plain form.
	ajv.addFormat('uuid', new RegExp(UUID_PATTERN));
	// ISO 8601 has a year 0000; PostgreSQL's timestamptz input does not (it counts 1 BC instead).
	const isoDateTime = ajv.formats['date-time'] as { validate: (text: string) => boolean; compare?: (a: string, b: string) => number | undefined };
	ajv.addFormat('date-time', { ...isoDateTime, validate: (text: string) => isoDateTime.validate(text) && !text.startsWith('0000') });
	const limit = options.payloadMaxDepth;
	const boundedNesting: ((schema: unknown, data: unknown) => boolean) & { errors?: Partial<ErrorObject>[] } = (_schema, data) => {
		if (!nestsDeeperThan(data, limit)) return true;
		boundedNesting.errors = [{ keyword: BOUNDED_NESTING, message: `is nested deeper than ${limit} levels`, params: { limit } }];
		return false;
	};
	ajv.addKeyword({ keyword: BOUNDED_NESTING, schemaType: 'boolean', errors: true, validate: boundedNesting });
	return ajv;
}

/** One validator pair per server: the nesting bound is the server's configuration. */
export function createValidatorCompiler(options: ValidationOptions): FastifySchemaCompiler<unknown> {
	const strictAjv = createAjv(false, options);
	const coercingAjv = createAjv(true, options);
	return ({ schema, httpPart }) => {
		const ajv = httpPart === 'body' ? strictAjv : coercingAjv;
		return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
	};
}

/** `/tasks/3/delaySeconds` → `tasks[3].delaySeconds`, prefixed with the request part for query/params. */
export function fieldPath(instancePath: string, extra?: string): string {
	const parts = instancePath.split('/').filter(Boolean);
	if (extra !== undefined) parts.push(extra);
	let out = '';
	for (const raw of parts) {
		const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
		out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
	}
	return out;
}

/** Turns Ajv's errors into our field problems, one per field, in the words a person reads. */
export function toFieldProblems(errors: ErrorObject[], part: string): FieldProblem[] {
	const seen = new Set<string>();
	const problems: FieldProblem[] = [];
	for (const e of errors) {
		// `anyOf`/`oneOf` repeat every branch's complaint; their own summary is enough.
		if (e.keyword === 'if') continue;
		const params = e.params as Record<string, unknown>;
		let field = fieldPath(e.instancePath);
		let message: string;
		switch (e.keyword) {
			case 'required':
				field = fieldPath(e.instancePath, String(params.missingProperty));
				message = 'is required';
				break;
			case 'additionalProperties':
				field = fieldPath(e.instancePath, String(params.additionalProperty));
				message = 'is not a known field';
				break;
			case 'type':
				message = `must be ${params.type === 'integer' ? 'an integer' : `of type ${String(params.type)}`}`;
				break;
			case 'enum':
				message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
				break;
			case 'anyOf':
			case 'oneOf':
				message = 'does not match any allowed form';
				break;
			case 'pattern':
				message = PATTERN_MESSAGES[String(params.pattern)] ?? `must match the pattern ${String(params.pattern)}`;
				break;
			case 'format':
				message = params.format === 'uuid' ? (PATTERN_MESSAGES[UUID_PATTERN] as string) : `must be a valid ${String(params.format)}`;
				break;
			case BOUNDED_NESTING:
				message = `is nested deeper than ${String(params.limit)} levels (PAYLOAD_MAX_DEPTH)`;
				break;
			default:
				message = e.message ?? 'is invalid';
		}
		if (part !== 'body') field = field === '' ? part : `${part}.${field}`;
		if (field === '') field = part;
		const key = `${field}|${message}`;
		if (seen.has(key)) continue;
		seen.add(key);
		problems.push({ field, message: `${field} ${message}` });
	}
	// A branch error followed by its anyOf summary: keep the specific ones first, drop the summary
	// when a more specific problem exists for the same field.
	return problems.filter(
		(p) => !(p.message.endsWith('does not match any allowed form') && problems.some((q) => q !== p && q.field === p.field)),
	);
}
