/** One wrong field of a request: `field` is a path like `retry.limit` or `tasks[3].delaySeconds`. */
export interface FieldProblem {
	field: string;
	message: string;
}

/**
 * An expected failure with an HTTP status and a stable machine code. Services throw it; the API's
 * single error handler turns it into `{ error: { code, message, details } }`. Anything else that
 * reaches the handler is a bug and becomes a logged 500.
 */
export class DomainError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
		readonly details: FieldProblem[] = [],
	) {
		super(message);
		this.name = 'DomainError';
	}
}

/** A 400 about one field; the message names the field, as the error contract requires. */
export function invalidField(field: string, problem: string): DomainError {
	return new DomainError(400, 'invalid_request', `${field} ${problem}`, [{ field, message: `${field} ${problem}` }]);
}

export function notFound(what: string, id: string, field?: string): DomainError {
	const message = `${what} "${id}" does not exist`;
	return new DomainError(404, `${what.toLowerCase().replace(/ /g, '_')}_not_found`, message, field ? [{ field, message }] : []);
}

export function conflict(code: string, message: string, details: FieldProblem[] = []): DomainError {
	return new DomainError(409, code, message, details);
}
