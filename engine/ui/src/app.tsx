import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { createApi } from './api';
import { AppContext, type AppContextValue } from './context';
import { Link } from './components/Link';
import { LiveContext, LiveStream, useLiveStatus } from './live';
import { useRoute, type Route } from './router';
import { canWrite, clearSession, loadSession, saveSession, type Session } from './session';
import { Batches } from './views/Batches';
import { DeadLetters } from './views/DeadLetters';
import { Login } from './views/Login';
import { Overview } from './views/Overview';
import { QueueView } from './views/QueueView';
import { Schedules } from './views/Schedules';
import { TaskView } from './views/TaskView';

/** The page: the key form until a key is accepted, then the dashboard. */
export function App() {
	const [session, setSession] = useState<Session | null>(loadSession);
	const [reason, setReason] = useState<string | null>(null);
	if (session === null) {
		return (
			<Login
				reason={reason}
				onSignedIn={(s) => {
					saveSession(s);
					setReason(null);
					setSession(s);
				}}
			/>
		);
	}
	return (
		<Dashboard
			session={session}
			onSignOut={(why) => {
				clearSession();
				setReason(why);
				setSession(null);
			}}
		/>
	);
}

interface Toast {
	id: number;
	message: string;
	kind: 'info' | 'error';
}

function Dashboard({ session, onSignOut }: { session: Session; onSignOut: (why: string | null) => void }) {
	const unauthorized = useCallback(() => onSignOut('The engine no longer accepts this key (revoked, or API_KEYS changed). Paste a valid key.'), [onSignOut]);
	const live = useMemo(() => new LiveStream(session.key, unauthorized), [session.key]);
	useEffect(() => () => live.stop(), [live]);
	const [toasts, setToasts] = useState<Toast[]>([]);
	const nextToast = useRef(0);
	const context = useMemo<AppContextValue>(
		() => ({
			api: createApi(session.key, unauthorized),
			scope: session.scope,
			canWrite: canWrite(session.scope),
			notify: (message, kind = 'info') => {
				const id = ++nextToast.current;
				setToasts((list) => [...list.slice(-3), { id, message, kind }]);
				setTimeout(() => setToasts((list) => list.filter((t) => t.id !== id)), kind === 'error' ? 10_000 : 5000);
			},
		}),
		[session.key, session.scope],
	);
	const route = useRoute();
	const main = useRef<HTMLElement>(null);
	const first = useRef(true);
	useEffect(() => {
		document.title = `${titleOf(route)} · Background Tasks`;
		// After moving to another view, start reading there (keyboard and screen-reader users).
		if (!first.current) main.current?.focus();
		first.current = false;
	}, [route.view, 'name' in route ? route.name : '', 'id' in route ? route.id : '']);

	return (
		<AppContext.Provider value={context}>
			<LiveContext.Provider value={live}>
				<a class="skip-link" href="#main">
					Skip to content
				</a>
				<header class="top">
					<span class="brand">Background Tasks</span>
					<nav aria-label="Sections">
						<Link to={{ view: 'overview' }} current={route.view === 'overview' || route.view === 'queue'}>
							Queues
						</Link>
						<Link to={{ view: 'deadLetters', queue: null }} current={route.view === 'deadLetters'}>
							Dead letters
						</Link>
						<Link to={{ view: 'schedules' }} current={route.view === 'schedules'}>
							Schedules
						</Link>
						<Link to={{ view: 'batches' }} current={route.view === 'batches'}>
							Batches
						</Link>
					</nav>
					<LiveIndicator />
					<span class={`scope scope-${session.scope}`} title="The scope of the API key in use">
						{session.scope === 'read' ? 'read-only key' : `${session.scope} key`}
					</span>
					<button type="button" onClick={() => onSignOut(null)}>
						Sign out
					</button>
				</header>
				<main id="main" ref={main} tabIndex={-1}>
					<View route={route} />
				</main>
				<div class="toasts" role="status" aria-live="polite">
					{toasts.map((t) => (
						<p key={t.id} class={`toast ${t.kind}`}>
							{t.message}
						</p>
					))}
				</div>
			</LiveContext.Provider>
		</AppContext.Provider>
	);
}

function View({ route }: { route: Route }) {
	switch (route.view) {
		case 'overview':
			return <Overview />;
		case 'queue':
			return <QueueView key={route.name} name={route.name} state={route.state} />;
		case 'task':
			return <TaskView key={route.id} id={route.id} />;
		case 'deadLetters':
			return <DeadLetters queue={route.queue} />;
		case 'schedules':
			return <Schedules />;
		case 'batches':
			return <Batches />;
		case 'notFound':
			return (
				<>
					<h1>Not found</h1>
					<p>
						The dashboard has no page at <span class="mono">{route.path}</span>. <Link to={{ view: 'overview' }}>See the queues</Link>.
					</p>
				</>
			);
	}
}

function titleOf(route: Route): string {
	switch (route.view) {
		case 'overview':
			return 'Queues';
		case 'queue':
			return `Queue ${route.name}`;
		case 'task':
			return `Task ${route.id}`;
		case 'deadLetters':
			return 'Dead letters';
		case 'schedules':
			return 'Schedules';
		case 'batches':
			return 'Batches';
		case 'notFound':
			return 'Not found';
	}
}

const STATUS_TEXT = {
	idle: '',
	connecting: 'Connecting…',
	live: 'Live',
	reconnecting: 'Reconnecting…',
	unavailable: 'No live updates (this engine has no event stream)',
} as const;

/** Whether what the page shows is moving with the engine (the event stream is open). */
function LiveIndicator() {
	const status = useLiveStatus();
	return (
		<span class={`live live-${status}`} data-live={status}>
			<span class="dot" aria-hidden="true" />
			{STATUS_TEXT[status]}
		</span>
	);
}
