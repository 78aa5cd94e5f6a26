import { formatCount, formatDuration } from '../format';
import type { HistoryPoint } from '../types';

/**
 * Small charts of a queue's last hour (`GET /v1/queues/{name}/history`, one point per minute), in
 * plain SVG. Each says what it shows in words (its accessible name), so the figures are not only
 * in the picture.
 */
const W = 180;
const H = 36;

export function ThroughputChart({ points }: { points: HistoryPoint[] }) {
	if (points.length === 0) return <span class="chart-empty">no history</span>;
	const max = Math.max(1, ...points.map((p) => p.completed + p.failed));
	const step = W / points.length;
	const completed = points.reduce((sum, p) => sum + p.completed, 0);
	const failed = points.reduce((sum, p) => sum + p.failed, 0);
	const label = `Last ${points.length} min: ${formatCount(completed)} completed, ${formatCount(failed)} failed; at most ${formatCount(max)} a minute`;
	return (
		<svg class="chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label}>
			<title>{label}</title>
			<line class="axis" x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} />
			{points.map((p, i) => {
				const ok = (p.completed / max) * (H - 2);
				const bad = (p.failed / max) * (H - 2);
				return (
					<g key={p.at}>
						{ok > 0 ? <rect class="bar-ok" x={i * step + 0.5} y={H - ok} width={Math.max(step - 1, 0.5)} height={ok} /> : null}
						{bad > 0 ? <rect class="bar-failed" x={i * step + 0.5} y={H - ok - bad} width={Math.max(step - 1, 0.5)} height={bad} /> : null}
					</g>
				);
			})}
		</svg>
	);
}

export function LatenessChart({ points }: { points: HistoryPoint[] }) {
	const values = points.map((p) => p.latenessMsP95);
	const known = values.filter((v): v is number => v !== null);
	if (known.length === 0) return null; // nothing started this hour: the figure beside it says "–"
	const max = Math.max(1, ...known);
	const step = W / Math.max(points.length - 1, 1);
	// A minute without deliveries has no lateness: the line breaks there instead of dropping to 0.
	const segments: string[] = [];
	let current: string[] = [];
	values.forEach((v, i) => {
		if (v === null) {
			if (current.length) segments.push(current.join(' '));
			current = [];
			return;
		}
		current.push(`${(i * step).toFixed(1)},${(H - 1 - (v / max) * (H - 3)).toFixed(1)}`);
	});
	if (current.length) segments.push(current.join(' '));
	const last = known[known.length - 1];
	const label = `Lateness p95 over the last ${points.length} min: latest ${formatDuration(last)}, highest ${formatDuration(max)}`;
	return (
		<svg class="chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label}>
			<title>{label}</title>
			<line class="axis" x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} />
			{segments.map((s) => (s.includes(' ') ? <polyline key={s} class="line" points={s} /> : <circle key={s} class="dot" cx={s.split(',')[0]} cy={s.split(',')[1]} r="1.5" />))}
		</svg>
	);
}
