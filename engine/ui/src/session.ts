import type { Scope } from './types';

/**
 * The key the user pasted, kept for this browser tab only (sessionStorage: gone when the tab
 * closes, never sent anywhere but this engine's API, in the Authorization header).
 */
const KEY = 'background-tasks.apiKey';

export interface Session {
	key: string;
	scope: Scope;
}

export function loadSession(): Session | null {
	try {
		const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
		return saved && typeof saved.key === 'string' && typeof saved.scope === 'string' ? saved : null;
	} catch {
		return null;
	}
}

export function saveSession(session: Session): void {
	sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
	sessionStorage.removeItem(KEY);
}

/** May this key change things (pause, redrive, run now …)? A `read` key sees no action buttons. */
export function canWrite(scope: Scope): boolean {
	return scope === 'write' || scope === 'admin';
}
