import { Type, type Static } from 'typebox';

/**
 * A queue and a handler as the API shows them. presentQueue and presentHandler
 * (queues/queueService.ts) are typed by these schemas, so a field the presenter sends and the schema
 * does not name (or the reverse) fails to compile.
 */

export const QueueResponse = Type.Object({
	name: Type.String(),
	retry: Type.Object({}, { additionalProperties: true }),
	timeoutSeconds: Type.Union([Type.Integer(), Type.Null()]),
	asyncTimeoutSeconds: Type.Union([Type.Integer(), Type.Null()]),
	priority: Type.Union([Type.Integer(), Type.Null()]),
	concurrency: Type.Integer(),
	rateLimit: Type.Union([Type.Object({ max: Type.Integer(), periodSeconds: Type.Integer() }), Type.Null()]),
	keyConcurrency: Type.Union([Type.Integer(), Type.Null()]),
	keyRateLimit: Type.Union([Type.Object({ max: Type.Integer(), periodSeconds: Type.Integer() }), Type.Null()]),
	paused: Type.Boolean(),
	secret: Type.Optional(Type.String({ description: 'Signing secret of tasks sent to their own url (whsec_…); only for keys with scope admin' })),
	createdAt: Type.String(),
	updatedAt: Type.String(),
});

export const HandlerResponse = Type.Object({
	id: Type.String(),
	queue: Type.String(),
	url: Type.String(),
	events: Type.Array(Type.String()),
	mode: Type.String(),
	confirm: Type.Boolean(),
	secret: Type.Optional(Type.String({ description: 'Signing secret of deliveries to this handler (whsec_…); left out for keys with scope read' })),
	healthy: Type.Boolean(),
	createdAt: Type.String(),
});

export type QueueView = Static<typeof QueueResponse>;
export type HandlerView = Static<typeof HandlerResponse>;
