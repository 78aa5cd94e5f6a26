import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SCOPES } from '../../auth/scopes.js';
import { ErrorBody } from '../schemas/common.js';

const WhoAmI = Type.Object({
	scope: Type.Enum(SCOPES, { description: 'What this key may do: admin ⊃ write ⊃ read (README, "Security")' }),
});

/**
 * `GET /v1/whoami`: the scope of the key that calls it. A client checks a key with it and shows only
 * what the key may do (the dashboard hides its buttons from a `read` key).
 */
export function whoAmIRoutes(): FastifyPluginAsyncTypebox {
	return async (app) => {
		app.get(
			'/v1/whoami',
			{ schema: { tags: ['keys'], summary: "The calling API key's scope", response: { 200: WhoAmI, 401: ErrorBody } } },
			// Access control set the scope before this runs (the route is not public).
			async (request) => ({ scope: request.apiScope! }),
		);
	};
}
