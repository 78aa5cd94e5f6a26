import { formatJson } from '../format';

/** JSON shown as it is, scrollable and reachable by keyboard. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
	return (
		<pre class="json" tabIndex={0} aria-label={label}>
			<code>{formatJson(value)}</code>
		</pre>
	);
}
