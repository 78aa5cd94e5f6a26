import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ApiKeyVerifier } from '../../auth/apiKeys.js';
import { invalidField } from '../../errors.js';
import type { EventHub } from '../../events/eventHub.js';
import { EventPosition } from '../../events/eventPosition.js';
import { EVENT_TYPES, eventFilter } from '../../events/eventTypes.js';
import { ErrorBody, QueueName } from '../schemas/common.js';

const EventsQuery = Type.Object(
	{
		queue: Type.Optional(Type.Array(QueueName, { maxItems: 100, description: 'Only events of this queue; repeat the parameter for several (default: every queue)' })),
		types: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: `Comma-separated event types (default: all): ${EVENT_TYPES.join(', ')}` })),
	},
	{ additionalProperties: false },
);

const DESCRIPTION = `Server-Sent Events (\`text/event-stream\`). Each event is \`event: <type>\`, \`id: <position>\`, \`data: <JSON>\`:

- \`task.state\` — every state change of every task: \`{ id, queue, name, state, attempt, at }\`
- \`task.dead_lettered\` — a task became \`failed\`: \`{ task: <the task with its attempts, as GET /v1/tasks/{id}> }\`
- \`batch.progress\` — a batch whose chunks moved, at most once a second per batch: the shape of \`GET /v1/batches/{id}\`
- \`queue.stats\` — every 2 s, one event per queue: \`{ queue, paused, counts: { scheduled, queued, active, retrying, completed, failed, cancelled }, deadLetters, throughputPerMinute: { last5m, last60m } }\` (\`completed\` and \`failed\` over the last hour)

Events from every engine on the database reach every stream; every event committed after the response's headers reaches it (a 503 when the event log cannot be read). The \`id\` is a position in the event log, valid on any engine: send the last one back as the \`Last-Event-ID\` header to resume for up to 5 minutes (task events are replayed; the computed \`batch.progress\` and \`queue.stats\` are not). A stream opened without \`Last-Event-ID\` first sends its starting position as a block with only an \`id:\` line (no event), so a client can resume even if it drops before the first event. A position outside that window starts the stream with \`event: reset\` (reload what you show). A resumed stream may repeat an event, never skip one. A comment line \`: ping\` comes every 15 s. A client that falls more than 1 MiB behind gets \`event: overflow\` and the stream ends (reconnect with \`Last-Event-ID\`). A stream whose API key is revoked ends at its next ping (reconnecting is then a 401). The API key goes in the \`Authorization\` header only, never in the query string (use fetch, not EventSource, in a browser).`;

/** `GET /v1/events`: the live event stream (engine/src/events). The verifier re-checks each stream's key at its pings. */
export function eventRoutes(hub: EventHub, verifier: ApiKeyVerifier): FastifyPluginAsyncTypebox {
	return async (app) => {
		// Streams never end by themselves: the server's close ends them first.
		app.addHook('preClose', async () => hub.closeAll());

		app.get(
			'/v1/events',
			{
				schema: {
					tags: ['events'],
					summary: 'Live events (Server-Sent Events): task state changes, dead letters, batch progress, queue stats',
					description: DESCRIPTION,
					querystring: EventsQuery,
					headers: Type.Object({
						'last-event-id': Type.Optional(Type.String({ maxLength: 1000, description: 'The id of the last event received: resume after it' })),
					}),
					response: {
						200: { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
						400: ErrorBody,
						401: ErrorBody,
						503: ErrorBody,
					},
				},
			},
			async (request, reply) => {
				// Everything is checked before the stream starts: a bad filter is a 400, not a closed stream.
				const filter = eventFilter(request.query);
				const lastEventId = request.headers['last-event-id']?.trim();
				let resumeFrom: EventPosition | null = null;
				if (lastEventId) {
					resumeFrom = EventPosition.parse(lastEventId, Date.now());
					if (!resumeFrom) throw invalidField('headers.last-event-id', 'is not an event id of this API (send back the id of the last event received)');
				}
				// The access hook accepted this key; a stream outlives that check, so the hub asks again at each ping.
				const key = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
				const keyStillValid = key === undefined ? null : async () => (await verifier.verify(key)) !== null;
				const stream = await hub.register(reply.raw, filter, keyStillValid);
				reply.hijack();
				await hub.serve(stream, resumeFrom);
			},
		);
	};
}
