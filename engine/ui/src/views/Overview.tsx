import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from '../context';
import { PauseButton } from '../components/PauseButton';
import { PausedBadge, StatusBadge } from '../components/Badges';
import { LatenessChart, ThroughputChart } from '../components/Charts';
import { Link } from '../components/Link';
import { Empty, ErrorNotice, Loading } from '../components/Notice';
import { formatCount, formatDuration, formatRate } from '../format';
import { useLoad, useThrottled } from '../hooks';
import { useLive } from '../live';
import type { AllQueuesHealth, HistoryPoint, QueueHealth, QueueHistory, QueueStatsEvent } from '../types';
import { applyStats, setPaused } from './queueUpdates';

/** Queues shown at once; "Show more" adds as many (each shown queue loads its own hour of history). */
const PAGE = 25;

/**
 * Every queue at a glance: status, counts, and the last hour as small charts. Counts move with the
 * stream's `queue.stats` (every 2 s per queue); the charts load again when a new minute begins.
 */
export function Overview() {
	const { api, canWrite } = useApp();
	const health = useLoad(() => api.get<AllQueuesHealth>('/v1/health/queues'), []);
	const [shown, setShown] = useState(PAGE);
	const queues = health.data?.queues ?? [];
	const visible = queues.slice(0, shown);
	const history = useHistories(visible.map((q) => q.queue));
	const reloadSoon = useThrottled(health.reload, 1000);

	useLive(['queue.stats', 'task.dead_lettered'], null, (event) => {
		if (event.type === 'reset') {
			health.reload();
			history.refresh(true);
			return;
		}
		if (event.type === 'queue.stats') {
			const stats = event.data as QueueStatsEvent;
			// A queue this page has not seen: created since it loaded.
			if (!queues.some((q) => q.queue === stats.queue)) reloadSoon();
			else health.setData((data) => ({ ...data, queues: data.queues.map((q) => (q.queue === stats.queue ? applyStats(q, stats) : q)) }));
			history.refresh(false);
		} else if (event.type === 'task.dead_lettered') {
			const queue = (event.data as { task?: { queue?: string } }).task?.queue;
			health.setData((data) => ({ ...data, queues: data.queues.map((q) => (q.queue === queue ? { ...q, deadLetters: q.deadLetters + 1 } : q)) }));
		}
	});

	if (health.error && !health.data) return <ErrorNotice error={health.error} retry={health.reload} />;
	if (!health.data) return <Loading what="queues" />;
	const totals = sum(queues);
	return (
		<>
			<h1>Queues</h1>
			<dl class="totals" aria-label="All queues">
				<div>
					<dt>Queues</dt>
					<dd>{formatCount(queues.length)}</dd>
				</div>
				<div>
					<dt>Queued</dt>
					<dd>{formatCount(totals.queued)}</dd>
				</div>
				<div>
					<dt>Active</dt>
					<dd>{formatCount(totals.active)}</dd>
				</div>
				<div>
					<dt>Completed (1 h)</dt>
					<dd>{formatCount(totals.completed)}</dd>
				</div>
				<div>
					<dt>Dead letters</dt>
					<dd>{formatCount(totals.deadLetters)}</dd>
				</div>
			</dl>
			{queues.length === 0 ? (
				<Empty>No queues yet. A Task Trigger creates its queue when its workflow is published; so does POST /v1/queues.</Empty>
			) : (
				<div class="table-wrap">
					<table class="queues">
						<caption class="visually-hidden">Queues with their counts and the last hour</caption>
						<thead>
							<tr>
								<th scope="col">Queue</th>
								<th scope="col">Status</th>
								<th scope="col" class="num">Queued</th>
								<th scope="col" class="num">Active</th>
								<th scope="col" class="num">Retrying</th>
								<th scope="col" class="num">Scheduled</th>
								<th scope="col" class="num">Completed 1&nbsp;h</th>
								<th scope="col" class="num">Failed 1&nbsp;h</th>
								<th scope="col" class="num">Dead letters</th>
								<th scope="col">Last hour</th>
								<th scope="col">Lateness p95</th>
								{canWrite ? <th scope="col">Actions</th> : null}
							</tr>
						</thead>
						<tbody>
							{visible.map((q) => (
								<QueueRow key={q.queue} queue={q} points={history.points[q.queue]} canWrite={canWrite} onChange={(next) => health.setData((d) => ({ ...d, queues: d.queues.map((x) => (x.queue === next.queue ? next : x)) }))} />
							))}
						</tbody>
					</table>
				</div>
			)}
			{queues.length > shown ? (
				<button type="button" onClick={() => setShown(shown + PAGE)}>
					Show {Math.min(PAGE, queues.length - shown)} more queues
				</button>
			) : null}
		</>
	);
}

function QueueRow({ queue: q, points, canWrite, onChange }: { queue: QueueHealth; points: HistoryPoint[] | undefined; canWrite: boolean; onChange: (q: QueueHealth) => void }) {
	return (
		<tr data-queue={q.queue}>
			<th scope="row">
				<Link to={{ view: 'queue', name: q.queue, state: null }}>{q.queue}</Link> {q.paused ? <PausedBadge /> : null}
			</th>
			<td>
				<StatusBadge status={q.status} reasons={q.reasons} />
			</td>
			<td class="num" data-count="queued">
				{formatCount(q.counts.queued)}
			</td>
			<td class="num" data-count="active">
				{formatCount(q.counts.active)}
			</td>
			<td class="num" data-count="retrying">
				{formatCount(q.counts.retrying)}
			</td>
			<td class="num" data-count="scheduled">
				{formatCount(q.counts.scheduled)}
			</td>
			<td class="num" data-count="completed">
				{formatCount(q.counts.completed)}
			</td>
			<td class="num" data-count="failed">
				{formatCount(q.counts.failed)}
			</td>
			<td class="num" data-count="deadLetters">
				{q.deadLetters > 0 ? <Link to={{ view: 'deadLetters', queue: q.queue }}>{formatCount(q.deadLetters)}</Link> : '0'}
			</td>
			<td class="chart-cell">
				{points ? <ThroughputChart points={points} /> : null}
				<span class="chart-figure" title="Completed per minute, average of the last hour">
						{formatRate(q.throughputPerMinute.last60m)}/min
					</span>
			</td>
			<td class="chart-cell">
				{points ? <LatenessChart points={points} /> : null}
				<span class="chart-figure" title="Start minus due time, 95th percentile of the last hour">
						{formatDuration(q.latenessMs.p95)}
					</span>
			</td>
			{canWrite ? (
				<td>
					<PauseButton queue={q.queue} paused={q.paused} onDone={(paused) => onChange(setPaused(q, paused))} />
				</td>
			) : null}
		</tr>
	);
}

function sum(queues: QueueHealth[]) {
	return queues.reduce(
		(t, q) => ({ queued: t.queued + q.counts.queued, active: t.active + q.counts.active, completed: t.completed + q.counts.completed, deadLetters: t.deadLetters + q.deadLetters }),
		{ queued: 0, active: 0, completed: 0, deadLetters: 0 },
	);
}

/**
 * The last hour of each shown queue, loaded when the list changes and again once a minute has
 * passed — checked when a `queue.stats` event arrives, so a quiet page asks nothing.
 */
function useHistories(names: string[]) {
	const { api } = useApp();
	const [points, setPoints] = useState<Record<string, HistoryPoint[]>>({});
	const loadedMinute = useRef(0);
	const current = useRef(names);
	current.current = names;
	const load = useCallback(
		async (list: string[]) => {
			loadedMinute.current = Math.floor(Date.now() / 60_000);
			const loaded = await Promise.all(
				list.map((name) =>
					api.get<QueueHistory>(`/v1/queues/${encodeURIComponent(name)}/history`, { minutes: 60 }).then(
						(h) => [name, h.points] as const,
						() => [name, [] as HistoryPoint[]] as const, // an engine without history: the chart says so
					),
				),
			);
			setPoints((before) => ({ ...before, ...Object.fromEntries(loaded) }));
		},
		[api],
	);
	const key = names.join('\n');
	useEffect(() => void load(current.current), [key]);
	const refresh = useCallback(
		(now: boolean) => {
			if (now || Math.floor(Date.now() / 60_000) !== loadedMinute.current) void load(current.current);
		},
		[load],
	);
	return { points, refresh };
}
