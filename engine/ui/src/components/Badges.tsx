import type { TaskState } from '../types';

export function StateBadge({ state }: { state: TaskState | string }) {
	return <span class={`badge state-${state}`}>{state.replace(/_/g, ' ')}</span>;
}

/** A queue's health status; the reasons say why in words (also for screen readers). */
export function StatusBadge({ status, reasons = [] }: { status: 'ok' | 'warning' | 'critical'; reasons?: { message: string }[] }) {
	const why = reasons.map((r) => r.message).join('; ');
	return (
		<span class={`badge status-${status}`} title={why || undefined}>
			{status}
			{why ? <span class="visually-hidden">: {why}</span> : null}
		</span>
	);
}

export function PausedBadge() {
	return <span class="badge paused">paused</span>;
}
