import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api';
import type { Scope } from './types';

/** What every view gets from the signed-in page. */
export interface AppContextValue {
	api: Api;
	scope: Scope;
	/** False for a `read` key: views render no action buttons at all. */
	canWrite: boolean;
	/** A short message in the page's status area (read out by screen readers). */
	notify(message: string, kind?: 'info' | 'error'): void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
	const value = useContext(AppContext);
	if (value === null) throw new Error('useApp outside the signed-in page');
	return value;
}
