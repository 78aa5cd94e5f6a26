import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../context';
import { ActionButton } from '../components/Actions';
import { PausedBadge } from '../components/Badges';
import { Link } from '../components/Link';
import { Empty, ErrorNotice, Loading } from '../components/Notice';
import { Pager, usePager } from '../components/Pager';
import { formatDuration, formatRelative, formatTime } from '../format';
import { useLoad, useNow } from '../hooks';
import type { Page, Schedule, Task } from '../types';

const PAGE_SIZE = 50;

/**
 * Schedules by name, 50 at a time, with their next run, and on request their next five. Schedules
 * send no events: the page loads again when the earliest next run it shows has passed (one timer
 * to a known instant, not a polling loop).
 */
export function Schedules() {
	const { api, canWrite } = useApp();
	const pager = usePager('schedules');
	const schedules = useLoad(() => api.get<Page<Schedule>>('/v1/schedules', { limit: PAGE_SIZE, cursor: pager.cursor }), [pager.cursor]);
	const now = useNow(1000);

	const earliest = Math.min(...(schedules.data?.items ?? []).filter((s) => s.nextFireAt && !s.paused).map((s) => Date.parse(s.nextFireAt as string)));
	useEffect(() => {
		if (!Number.isFinite(earliest)) return;
		// Just after the occurrence, when the engine has moved nextFireAt on; capped at a browser timer's range.
		const timer = setTimeout(schedules.reload, Math.min(Math.max(earliest - Date.now() + 1500, 1000), 2 ** 31 - 1));
		return () => clearTimeout(timer);
	}, [earliest]);

	const replace = (next: Schedule) => schedules.setData((page) => ({ ...page, items: page.items.map((s) => (s.id === next.id ? next : s)) }));
	return (
		<>
			<h1>Schedules</h1>
			{schedules.error && !schedules.data ? <ErrorNotice error={schedules.error} retry={schedules.reload} /> : null}
			{!schedules.data && !schedules.error ? <Loading what="schedules" /> : null}
			{schedules.data && schedules.data.items.length === 0 ? <Empty>No schedules. Create them with the Schedule Task node or PUT /v1/schedules/by-name/&#123;name&#125;.</Empty> : null}
			{schedules.data && schedules.data.items.length > 0 ? (
				<div class="table-wrap">
					<table class="schedules">
						<caption class="visually-hidden">Schedules by name</caption>
						<thead>
							<tr>
								<th scope="col">Schedule</th>
								<th scope="col">Queue</th>
								<th scope="col">When</th>
								<th scope="col">Next run</th>
								<th scope="col">Last run</th>
								<th scope="col">Upcoming</th>
								{canWrite ? <th scope="col">Actions</th> : null}
							</tr>
						</thead>
						<tbody>
							{schedules.data.items.map((s) => (
								<tr key={s.id} data-schedule={s.name}>
									<th scope="row">
										{s.name} {s.paused ? <PausedBadge /> : null}
									</th>
									<td>
										<Link to={{ view: 'queue', name: s.queue, state: null }}>{s.queue}</Link>
									</td>
									<td>
										{s.cron ? <span class="mono">{s.cron}</span> : `every ${formatDuration((s.everySeconds ?? 0) * 1000)}`}
										<span class="help"> {s.timezone}</span>
									</td>
									<td>
										{s.nextFireAt ? (
											<>
												{formatTime(s.nextFireAt)} <span class="help">({formatRelative(s.nextFireAt, now)})</span>
											</>
										) : s.paused ? (
											'paused'
										) : (
											'ended'
										)}
									</td>
									<td>{formatTime(s.lastFireAt)}</td>
									<td>
										<NextRuns schedule={s} />
									</td>
									{canWrite ? (
										<td>
											<div class="actions">
												<ActionButton
													label={`${s.paused ? 'Resume' : 'Pause'} schedule ${s.name}`}
													run={async () => {
														replace(await api.post<Schedule>(`/v1/schedules/${s.id}/${s.paused ? 'resume' : 'pause'}`));
														return `Schedule ${s.name} ${s.paused ? 'resumed' : 'paused'}`;
													}}
												>
													{s.paused ? 'Resume' : 'Pause'}
												</ActionButton>
												<RunNow schedule={s} />
											</div>
										</td>
									) : null}
								</tr>
							))}
						</tbody>
					</table>
				</div>
			) : null}
			{schedules.data ? <Pager what="schedules" page={pager.page} nextCursor={schedules.data.nextCursor} onOlder={pager.older} onNewer={pager.newer} /> : null}
		</>
	);
}

/** The next five fire times (`GET …/next?count=5`), loaded when opened. */
function NextRuns({ schedule }: { schedule: Schedule }) {
	const { api } = useApp();
	const [times, setTimes] = useState<string[] | null>(null);
	const [error, setError] = useState<string | null>(null);
	const toggle = (event: Event) => {
		if (!(event.currentTarget as HTMLDetailsElement).open) return;
		api.get<{ fireTimes: string[] }>(`/v1/schedules/${schedule.id}/next`, { count: 5 }).then(
			(r) => setTimes(r.fireTimes),
			(e: Error) => setError(e.message),
		);
	};
	return (
		<details onToggle={toggle}>
			<summary>Next 5</summary>
			{error ? <p class="field-error">{error}</p> : null}
			{times ? (
				<ol class="fire-times">
					{times.map((t) => (
						<li key={t}>{formatTime(t)}</li>
					))}
				</ol>
			) : null}
		</details>
	);
}

function RunNow({ schedule }: { schedule: Schedule }) {
	const { api } = useApp();
	const [task, setTask] = useState<Task | null>(null);
	return (
		<>
			<ActionButton
				label={`Run schedule ${schedule.name} now`}
				run={async () => {
					const created = await api.post<Task>(`/v1/schedules/${schedule.id}/run`);
					setTask(created);
					return `Schedule ${schedule.name} ran: task ${created.id} created`;
				}}
			>
				Run now
			</ActionButton>
			{task ? (
				<Link to={{ view: 'task', id: task.id }} class="help" label={`The task schedule ${schedule.name} just created`}>
					its task
				</Link>
			) : null}
		</>
	);
}
