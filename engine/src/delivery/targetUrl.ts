import { DomainError, invalidField } from '../errors.js';
import type { TargetPolicy } from './targetPolicy.js';

/**
 * Checks a handler, task or callback URL when it is given (enqueue, registration): http(s) only,
 * no credentials in it, and a host the target policy does not refuse — a 400 `target_refused`
 * naming `field` when it does. Names are checked again on their DNS answers at every delivery.
 */
export function checkTargetUrl(value: string, field: string, policy: TargetPolicy): string {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		throw invalidField(field, 'must be an absolute http(s) URL');
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidField(field, 'must use http or https');
	if (url.username !== '' || url.password !== '') throw invalidField(field, 'must not contain credentials');
	const refusal = policy.refusalForHost(url.hostname);
	if (refusal !== null) {
		const message = `${field} is refused: ${refusal}`;
		throw new DomainError(400, 'target_refused', message, [{ field, message }]);
	}
	return url.toString();
}
