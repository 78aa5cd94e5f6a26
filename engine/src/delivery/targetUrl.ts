import { invalidField } from '../errors.js';

/**
 * Checks a handler or task URL: http(s) only, no credentials in it, and — when an allow-list is
 * configured — a listed host, so a leaked API key cannot aim the engine at arbitrary addresses.
 */
export function checkTargetUrl(value: string, field: string, allowList: readonly string[]): string {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		throw invalidField(field, 'must be an absolute http(s) URL');
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidField(field, 'must use http or https');
	if (url.username !== '' || url.password !== '') throw invalidField(field, 'must not contain credentials');
	if (allowList.length > 0 && !allowList.includes(url.hostname.toLowerCase())) {
		throw invalidField(field, `has a host that is not in URL_HOST_ALLOW_LIST (${url.hostname})`);
	}
	return url.toString();
}
