import type { ComponentChildren } from 'preact';
import { followLink, hrefOf, type Route } from '../router';

/** A link to a view of the page: a real `<a href>` (new tab, copy link), moved inside the page on a plain click. */
export function Link(props: { to: Route; children: ComponentChildren; class?: string; current?: boolean; label?: string }) {
	return (
		<a href={hrefOf(props.to)} onClick={followLink} class={props.class} aria-current={props.current ? 'page' : undefined} aria-label={props.label}>
			{props.children}
		</a>
	);
}
