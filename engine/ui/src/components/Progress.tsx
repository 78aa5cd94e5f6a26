import { formatCount } from '../format';

/**
 * A batch's progress: completed and failed chunks of the total, as a bar and in words. A `meter`-like
 * progressbar role with its value text, so the figure is read out, not only seen.
 */
export function BatchProgress({ completed, failed, total }: { completed: number; failed: number; total: number }) {
	const done = completed + failed;
	const pct = total > 0 ? Math.min(100, (done / total) * 100) : 0;
	const text = `${formatCount(done)} of ${formatCount(total)} chunks done${failed ? `, ${formatCount(failed)} failed` : ''}`;
	return (
		<div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={done} aria-valuetext={text}>
			<div class="progress-track">
				<div class="progress-ok" style={{ width: `${total ? (completed / total) * 100 : 0}%` }} />
				<div class="progress-failed" style={{ width: `${total ? (failed / total) * 100 : 0}%` }} />
			</div>
			<span class="progress-text">
				{Math.floor(pct)}% · {text}
			</span>
		</div>
	);
}

/** A task's own progress (heartbeats of async work, docs/async-completion.md). */
export function TaskProgress({ percent, message }: { percent: number | null; message: string | null }) {
	return (
		<div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent ?? undefined} aria-valuetext={`${percent ?? '?'}%${message ? `: ${message}` : ''}`}>
			<div class="progress-track">
				<div class="progress-ok" style={{ width: `${percent ?? 0}%` }} />
			</div>
			<span class="progress-text">
				{percent === null ? '' : `${percent}%`} {message ?? ''}
			</span>
		</div>
	);
}
