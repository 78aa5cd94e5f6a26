import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FieldProblem } from '../errors.js';

/** The one error shape of the API. */
export function errorBody(code: string, message: string, details: FieldProblem[] = []) {
	return { error: { code, message, details } };
}

/**
 * The longest legal path parameter as the router measures it (decoded, in UTF-16 code units): a
 * 200-character schedule name of characters outside the BMP, two units each. Fastify's default
 * (100) refused names the API itself accepts; anything longer is a 414.
 */
export const MAX_PARAM_LENGTH = 200 * 2;

/**
 * What the router refuses before any route or hook runs — a path that is not valid %-encoding (400)
 * or a path parameter over MAX_PARAM_LENGTH (414) — answered with its own status in our shape.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
	if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
		const message = `path has a parameter longer than ${MAX_PARAM_LENGTH} characters`;
		void reply.code(414).send(errorBody('uri_too_long', message, [{ field: 'path', message }]));
		return;
	}
	if (error.code === 'FST_ERR_BAD_URL') {
		const message = 'path is not valid percent-encoding (%XX of UTF-8 bytes)';
		void reply.code(400).send(errorBody('invalid_url', message, [{ field: 'path', message }]));
		return;
	}
	void reply.code(error.statusCode && error.statusCode < 500 ? error.statusCode : 400).send(errorBody('bad_request', error.message));
}

/**
 * Requests Node's HTTP parser cannot read (malformed request line, headers over 16 KiB, a request
 * that takes too long) never reach Fastify: the answer is written to the socket, in our shape, and
 * the connection closed, as Node and Fastify do by default.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
	if (error.code === 'ECONNRESET' || socket.destroyed) return;
	const [status, code, message] =
		error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
			? [408, 'request_timeout', 'The request took too long to arrive']
			: error.code === 'HPE_HEADER_OVERFLOW'
				? [431, 'headers_too_large', 'The request line and headers are larger than 16 KiB']
				: [400, 'malformed_request', 'The request is not well-formed HTTP/1.1'];
	const body = JSON.stringify(errorBody(code, message));
	if (socket.writable) {
		socket.write(
			`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
		);
	}
	socket.destroy(error);
}
