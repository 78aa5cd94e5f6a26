import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useApp } from '../context';
import { PausedBadge, StateBadge, StatusBadge } from '../components/Badges';
import { Link } from '../components/Link';
import { Empty, ErrorNotice, Loading } from '../components/Notice';
import { Pager, usePager } from '../components/Pager';
import { PauseButton } from '../components/PauseButton';
import { formatCount, formatDuration, formatPriority, formatRate, formatTime, shortId, UUID } from '../format';
import { useLoad } from '../hooks';
import { useLive } from '../live';
import { navigate, hrefOf } from '../router';
import { TASK_STATES, type Page, type QueueHealth, type QueueStatsEvent, type Task, type TaskState, type TaskStateEvent } from '../types';
import { applyStats } from './queueUpdates';

const PAGE_SIZE = 50;

/**
 * One queue: its figures, pause/resume, and its tasks by state, 50 at a time through the API's
 * cursor (newest first) — never a count or an offset over the whole table, so a million tasks page
 * as fast as ten. Rows change state live (`task.state`); tasks that arrive after the page loaded are
 * counted, and shown on request, so the page a person is reading never shifts under them.
 */
export function QueueView({ name, state }: { name: string; state: TaskState | null }) {
	const { api, canWrite } = useApp();
	const path = `/v1/queues/${encodeURIComponent(name)}`;
	const health = useLoad(() => api.get<QueueHealth>(`${path}/health`), [name]);
	const pager = usePager(`${name}|${state}`);
	const tasks = useLoad(() => api.get<Page<Task>>('/v1/tasks', { queue: name, state, limit: PAGE_SIZE, cursor: pager.cursor }), [name, state, pager.cursor]);
	const arrived = useRef(new Set<string>());
	const [arrivedCount, setArrivedCount] = useState(0);
	useEffect(() => {
		arrived.current.clear();
		setArrivedCount(0);
	}, [name, state]);
	const showArrived = () => {
		arrived.current.clear();
		setArrivedCount(0);
		if (pager.page === 1) tasks.reload();
		else pager.first();
	};

	useLive(['task.state', 'queue.stats'], [name], (event) => {
		if (event.type === 'reset') {
			health.reload();
			tasks.reload();
		} else if (event.type === 'queue.stats') {
			health.setData((h) => applyStats(h, event.data as QueueStatsEvent));
		} else if (event.type === 'task.state') {
			const change = event.data as TaskStateEvent;
			const shown = tasks.data?.items.some((t) => t.id === change.id);
			if (shown) {
				tasks.setData((page) => ({ ...page, items: page.items.map((t) => (t.id === change.id ? { ...t, state: change.state, attemptCount: Math.max(t.attemptCount, change.attempt) } : t)) }));
			} else if (state === null ? change.state === 'queued' || change.state === 'scheduled' : change.state === state) {
				if (!arrived.current.has(change.id)) {
					arrived.current.add(change.id);
					setArrivedCount(arrived.current.size);
				}
			}
		}
	});
	const h = health.data;
	return (
		<>
			<nav aria-label="Breadcrumb" class="breadcrumb">
				<Link to={{ view: 'overview' }}>Queues</Link> <span aria-hidden="true">›</span> <span>{name}</span>
			</nav>
			<div class="title-row">
				<h1>
					Queue <span class="mono">{name}</span> {h?.paused ? <PausedBadge /> : null}
				</h1>
				{canWrite && h ? <PauseButton queue={name} paused={h.paused} onDone={(paused) => health.setData((x) => ({ ...x, paused }))} /> : null}
			</div>
			{health.error && !h ? <ErrorNotice error={health.error} retry={health.reload} /> : null}
			{h ? <QueueFigures health={h} /> : null}

			<TaskSearch queue={name} />

			<nav class="state-filter" aria-label="Tasks by state">
				<Link to={{ view: 'queue', name, state: null }} current={state === null}>
					All
				</Link>
				{TASK_STATES.map((s) => (
					<Link key={s} to={{ view: 'queue', name, state: s }} current={state === s}>
						{s} {h ? <span class="count">{countOf(h, s)}</span> : null}
					</Link>
				))}
			</nav>

			{arrivedCount > 0 ? (
				<p class="arrived" role="status">
					<button type="button" onClick={showArrived}>
						{arrivedCount} new {arrivedCount === 1 ? 'task' : 'tasks'} — show
					</button>
				</p>
			) : null}

			{tasks.error && !tasks.data ? <ErrorNotice error={tasks.error} retry={tasks.reload} /> : null}
			{!tasks.data && !tasks.error ? <Loading what="tasks" /> : null}
			{tasks.data ? (
				tasks.data.items.length === 0 ? (
					<Empty>{state ? `No ${state} tasks in ${name}.` : `No tasks in ${name}.`}</Empty>
				) : (
					<TaskTable tasks={tasks.data.items} caption={`${state ?? 'All'} tasks of ${name}, newest first`} />
				)
			) : null}
			{tasks.data ? <Pager what="tasks" page={pager.page} nextCursor={tasks.data.nextCursor} onOlder={pager.older} onNewer={pager.newer} /> : null}
		</>
	);
}

/** What a state's tab counts: live counts for unfinished states, dead letters for `failed`. */
function countOf(h: QueueHealth, state: TaskState): string {
	if (state === 'failed') return formatCount(h.deadLetters);
	if (state === 'completed' || state === 'cancelled') return '';
	return formatCount(h.counts[state]);
}

function QueueFigures({ health: h }: { health: QueueHealth }) {
	return (
		<section aria-labelledby="figures-heading" class="figures">
			<h2 id="figures-heading" class="visually-hidden">
				Figures
			</h2>
			<dl class="totals">
				<div>
					<dt>Status</dt>
					<dd>
						<StatusBadge status={h.status} reasons={h.reasons} />
					</dd>
				</div>
				<div>
					<dt>Queued</dt>
					<dd data-count="queued">{formatCount(h.counts.queued)}</dd>
				</div>
				<div>
					<dt>Active</dt>
					<dd data-count="active">{formatCount(h.counts.active)}</dd>
				</div>
				<div>
					<dt>Completed (1 h)</dt>
					<dd data-count="completed">{formatCount(h.counts.completed)}</dd>
				</div>
				<div>
					<dt>Dead letters</dt>
					<dd>{h.deadLetters > 0 ? <Link to={{ view: 'deadLetters', queue: h.queue }}>{formatCount(h.deadLetters)}</Link> : '0'}</dd>
				</div>
				<div>
					<dt>Oldest waiting</dt>
					<dd>{formatDuration(h.oldestQueuedAgeSeconds * 1000)}</dd>
				</div>
				<div>
					<dt>Throughput, last 5 min</dt>
					<dd>{formatRate(h.throughputPerMinute.last5m)}/min</dd>
				</div>
				<div>
					<dt>Handlers</dt>
					<dd>
						{h.handlers.healthy} of {h.handlers.count} healthy
					</dd>
				</div>
			</dl>
			{h.reasons.length > 0 ? (
				<ul class="reasons">
					{h.reasons.map((r) => (
						<li key={r.code}>{r.message}</li>
					))}
				</ul>
			) : null}
		</section>
	);
}

/**
 * Find one task: a UUID is looked up by id; anything else as an idempotency key of this queue
 * (`GET /v1/tasks?queue=&idempotencyKey=`, an indexed lookup).
 */
function TaskSearch({ queue }: { queue: string }) {
	const { api } = useApp();
	const [text, setText] = useState('');
	const [message, setMessage] = useState<string | null>(null);
	const search = async (event: Event) => {
		event.preventDefault();
		const value = text.trim();
		if (!value) return;
		setMessage(null);
		try {
			if (UUID.test(value)) {
				const task = await api.get<Task>(`/v1/tasks/${value}`);
				navigate(hrefOf({ view: 'task', id: task.id }));
				return;
			}
			const page = await api.get<Page<Task>>('/v1/tasks', { queue, idempotencyKey: value, limit: 1 });
			if (page.items[0]) navigate(hrefOf({ view: 'task', id: page.items[0].id }));
			else setMessage(`No task of ${queue} has the idempotency key "${value}".`);
		} catch (error) {
			if (error instanceof ApiError && error.status === 404) setMessage(`No task has the id ${value}.`);
			else if (error instanceof ApiError && error.field?.includes('idempotencyKey')) setMessage('This engine cannot search by idempotency key yet; search by task id.');
			else setMessage((error as Error).message);
		}
	};
	return (
		<form class="search" role="search" onSubmit={search}>
			<label for="task-search">Find a task</label>
			<input
				id="task-search"
				type="search"
				placeholder="Task id or idempotency key"
				value={text}
				onInput={(e) => setText((e.target as HTMLInputElement).value)}
				aria-describedby={message ? 'task-search-result' : undefined}
			/>
			<button type="submit">Find</button>
			{message ? (
				<p id="task-search-result" class="field-error" role="status">
					{message}
				</p>
			) : null}
		</form>
	);
}

export function TaskTable({ tasks, caption }: { tasks: Task[]; caption: string }) {
	return (
		<div class="table-wrap">
			<table class="tasks">
				<caption class="visually-hidden">{caption}</caption>
				<thead>
					<tr>
						<th scope="col">Task</th>
						<th scope="col">Name</th>
						<th scope="col">State</th>
						<th scope="col" class="num">Attempts</th>
						<th scope="col">Priority</th>
						<th scope="col">Created</th>
						<th scope="col">Due</th>
						<th scope="col">Last error</th>
					</tr>
				</thead>
				<tbody>
					{tasks.map((t) => (
						<tr key={t.id} data-task={t.id} data-state={t.state}>
							<th scope="row">
								<Link to={{ view: 'task', id: t.id }} class="mono" label={`Task ${t.id}`}>
									{shortId(t.id)}
								</Link>
							</th>
							<td>{t.name}</td>
							<td>
								<StateBadge state={t.state} />
							</td>
							<td class="num">
								{t.attemptCount}/{t.maxAttempts}
							</td>
							<td>{formatPriority(t.priority)}</td>
							<td>{formatTime(t.createdAt)}</td>
							<td>{formatTime(t.dueAt)}</td>
							<td class="error-text">{t.lastError ?? ''}</td>
						</tr>
					))}
				</tbody>
			</table>
		</div>
	);
}
