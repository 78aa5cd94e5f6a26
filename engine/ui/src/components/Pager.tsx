import { useState } from 'preact/hooks';

/**
 * Cursor paging, as the API pages (`nextCursor` until null): the cursors of the pages already seen
 * are kept, so "Newer" goes back without an offset. Never a count of all rows.
 */
export function usePager(resetKey: string) {
	const [state, setState] = useState<{ key: string; stack: (string | null)[] }>({ key: resetKey, stack: [null] });
	const stack = state.key === resetKey ? state.stack : [null];
	return {
		cursor: stack[stack.length - 1],
		page: stack.length,
		older: (next: string) => setState({ key: resetKey, stack: [...stack, next] }),
		newer: () => setState({ key: resetKey, stack: stack.slice(0, -1) }),
		first: () => setState({ key: resetKey, stack: [null] }),
	};
}

export function Pager(props: { page: number; nextCursor: string | null; onOlder: (cursor: string) => void; onNewer: () => void; what: string }) {
	if (props.page === 1 && props.nextCursor === null) return null;
	return (
		<nav class="pager" aria-label={`Pages of ${props.what}`}>
			<button type="button" onClick={props.onNewer} disabled={props.page === 1}>
				← Previous
			</button>
			<span>Page {props.page}</span>
			<button type="button" onClick={() => props.nextCursor && props.onOlder(props.nextCursor)} disabled={props.nextCursor === null}>
				Next →
			</button>
		</nav>
	);
}
