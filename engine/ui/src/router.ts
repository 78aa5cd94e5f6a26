import { useEffect, useState } from 'preact/hooks';
import { TASK_STATES, type TaskState } from './types';

/**
 * The page's views, one URL each under /ui (the engine answers every /ui/… path with the page, so a
 * reload or a shared link opens the same view). The History API moves between them: no reloads.
 */
export type Route =
	| { view: 'overview' }
	| { view: 'queue'; name: string; state: TaskState | null }
	| { view: 'task'; id: string }
	| { view: 'deadLetters'; queue: string | null }
	| { view: 'schedules' }
	| { view: 'batches' }
	| { view: 'notFound'; path: string };

const BASE = '/ui';

export function parseRoute(pathname: string, search: string): Route {
	const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length).replace(/\/+$/, '') : pathname;
	const query = new URLSearchParams(search);
	const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
	if (parts.length === 0) return { view: 'overview' };
	const [section, param] = parts;
	if (section === 'queues' && param && parts.length === 2) {
		const state = query.get('state');
		return { view: 'queue', name: param, state: (TASK_STATES as readonly string[]).includes(state ?? '') ? (state as TaskState) : null };
	}
	if (section === 'tasks' && param && parts.length === 2) return { view: 'task', id: param };
	if (parts.length === 1 && section === 'dead-letters') return { view: 'deadLetters', queue: query.get('queue') || null };
	if (parts.length === 1 && section === 'schedules') return { view: 'schedules' };
	if (parts.length === 1 && section === 'batches') return { view: 'batches' };
	return { view: 'notFound', path: pathname };
}

export function hrefOf(route: Route): string {
	switch (route.view) {
		case 'overview':
			return `${BASE}/`;
		case 'queue':
			return `${BASE}/queues/${encodeURIComponent(route.name)}${route.state ? `?state=${route.state}` : ''}`;
		case 'task':
			return `${BASE}/tasks/${encodeURIComponent(route.id)}`;
		case 'deadLetters':
			return `${BASE}/dead-letters${route.queue ? `?queue=${encodeURIComponent(route.queue)}` : ''}`;
		case 'schedules':
			return `${BASE}/schedules`;
		case 'batches':
			return `${BASE}/batches`;
		case 'notFound':
			return route.path;
	}
}

const listeners = new Set<() => void>();

export function navigate(href: string): void {
	if (href === location.pathname + location.search) return;
	history.pushState(null, '', href);
	for (const listener of listeners) listener();
}

/** The current route; re-renders on navigate() and on the browser's back and forward buttons. */
export function useRoute(): Route {
	const read = () => parseRoute(location.pathname, location.search);
	const [route, setRoute] = useState(read);
	useEffect(() => {
		const update = () => setRoute(read());
		listeners.add(update);
		addEventListener('popstate', update);
		return () => {
			listeners.delete(update);
			removeEventListener('popstate', update);
		};
	}, []);
	return route;
}

/** A plain click on a link moves inside the page; a modified click (new tab …) is left to the browser. */
export function followLink(event: MouseEvent): void {
	const anchor = event.currentTarget as HTMLAnchorElement;
	if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
	event.preventDefault();
	navigate(anchor.getAttribute('href') ?? '/ui/');
}
