import type { ComponentChildren } from 'preact';

/** A load that failed, said in the API's own words, with a way to try again. */
export function ErrorNotice({ error, retry }: { error: Error; retry?: () => void }) {
	return (
		<div class="notice error" role="alert">
			<p>{error.message}</p>
			{retry ? (
				<button type="button" onClick={retry}>
					Try again
				</button>
			) : null}
		</div>
	);
}

export function Empty({ children }: { children: ComponentChildren }) {
	return <p class="empty">{children}</p>;
}

export function Loading({ what }: { what: string }) {
	return (
		<p class="loading" role="status">
			Loading {what}…
		</p>
	);
}
