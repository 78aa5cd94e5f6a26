import type { ComponentChildren } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { useApp } from '../context';

interface ActionProps {
	/** Does the change; its resolved text is announced (e.g. "Redrove 12 tasks"). */
	run: () => Promise<string | void>;
	children: ComponentChildren;
	kind?: 'primary' | 'danger' | 'plain';
	label?: string;
}

/** A button that calls the API once at a time; an error is announced in the API's words. */
export function ActionButton({ run, children, kind = 'plain', label }: ActionProps) {
	const { notify } = useApp();
	const [busy, setBusy] = useState(false);
	const act = async () => {
		setBusy(true);
		try {
			const message = await run();
			if (message) notify(message);
		} catch (error) {
			notify((error as Error).message, 'error');
		} finally {
			setBusy(false);
		}
	};
	return (
		<button type="button" class={`action ${kind}`} onClick={act} disabled={busy} aria-busy={busy} aria-label={label}>
			{children}
		</button>
	);
}

/**
 * An action that cannot be undone (discard, cancel) asks first, in a modal dialog: focus moves into
 * it, Escape closes it, and "Cancel" is the default button.
 */
export function ConfirmButton(props: ActionProps & { question: string; confirm: string }) {
	const dialog = useRef<HTMLDialogElement>(null);
	const { notify } = useApp();
	const [busy, setBusy] = useState(false);
	const confirmed = async () => {
		dialog.current?.close();
		setBusy(true);
		try {
			const message = await props.run();
			if (message) notify(message);
		} catch (error) {
			notify((error as Error).message, 'error');
		} finally {
			setBusy(false);
		}
	};
	return (
		<>
			<button type="button" class={`action ${props.kind ?? 'danger'}`} disabled={busy} aria-busy={busy} aria-label={props.label} onClick={() => dialog.current?.showModal()}>
				{props.children}
			</button>
			<dialog ref={dialog} class="confirm">
				<p>{props.question}</p>
				<div class="buttons">
					<button type="button" autoFocus onClick={() => dialog.current?.close()}>
						Keep
					</button>
					<button type="button" class="action danger" onClick={confirmed}>
						{props.confirm}
					</button>
				</div>
			</dialog>
		</>
	);
}
