import { useState } from 'preact/hooks';
import { ApiError, createApi } from '../api';
import type { Session } from '../session';
import type { Scope } from '../types';

/**
 * The key is checked with `GET /v1/whoami`, which also tells its scope (a `read` key gets a page
 * without action buttons). Nothing is stored until the engine accepted it.
 */
export function Login({ onSignedIn, reason }: { onSignedIn: (session: Session) => void; reason: string | null }) {
	const [key, setKey] = useState('');
	const [error, setError] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);
	const submit = async (event: Event) => {
		event.preventDefault();
		const trimmed = key.trim();
		if (!trimmed) {
			setError('Paste an API key first.');
			return;
		}
		setBusy(true);
		setError(null);
		try {
			const { scope } = await createApi(trimmed, () => undefined).get<{ scope: Scope }>('/v1/whoami');
			onSignedIn({ key: trimmed, scope });
		} catch (e) {
			setError(e instanceof ApiError && e.status === 401 ? 'The engine does not accept this key. Check it, or the engine\'s API_KEYS.' : (e as Error).message);
		} finally {
			setBusy(false);
		}
	};
	return (
		<main id="main" class="login">
			<h1>Background Tasks</h1>
			<form onSubmit={submit} aria-describedby="key-help">
				{reason ? (
					<p class="notice" role="status">
						{reason}
					</p>
				) : null}
				<label for="api-key">API key</label>
				<input
					id="api-key"
					name="api-key"
					type="password"
					autoComplete="off"
					spellcheck={false}
					value={key}
					onInput={(e) => setKey((e.target as HTMLInputElement).value)}
					aria-invalid={error ? true : undefined}
					aria-describedby={error ? 'key-error' : undefined}
					autoFocus
				/>
				<p id="key-help" class="help">
					The key the engine printed when it first started (also in <code>.task-engine/api-key</code>), or one of its <code>API_KEYS</code>. A <code>read</code> key shows everything
					and changes nothing. The key stays in this browser tab only.
				</p>
				{error ? (
					<p id="key-error" class="field-error" role="alert">
						{error}
					</p>
				) : null}
				<button type="submit" class="action primary" disabled={busy}>
					{busy ? 'Checking…' : 'Open the dashboard'}
				</button>
			</form>
		</main>
	);
}
