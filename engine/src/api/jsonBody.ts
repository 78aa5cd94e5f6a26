import type { FastifyInstance } from 'fastify';
import { DomainError } from '../errors.js';

/**
 * JSON bodies are UTF-8 (RFC 8259). Fastify's own parser decodes leniently: a byte that is not
 * UTF-8 silently became U+FFFD, so a task could be stored with a name or payload the client never
 * sent. Here the bytes are decoded strictly first (invalid UTF-8 is a 400), then parsed by
 * Fastify's parser, which keeps its `__proto__` / `constructor` poisoning checks.
 */
export function strictUtf8JsonParser(app: FastifyInstance): void {
	const parseJson = app.getDefaultJsonParser('error', 'error');
	const utf8 = new TextDecoder('utf-8', { fatal: true });
	app.removeContentTypeParser('application/json');
	app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
		let text: string;
		try {
			text = utf8.decode(body as Buffer);
		} catch {
			done(new DomainError(400, 'malformed_json', 'The request body is not valid JSON: it is not valid UTF-8'), undefined);
			return;
		}
		parseJson(request, text, done);
	});
}
