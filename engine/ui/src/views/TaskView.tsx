import type { ComponentChildren } from 'preact';
import { useApp } from '../context';
import { ActionButton, ConfirmButton } from '../components/Actions';
import { StateBadge } from '../components/Badges';
import { JsonBlock } from '../components/JsonBlock';
import { Link } from '../components/Link';
import { ErrorNotice, Loading } from '../components/Notice';
import { TaskProgress } from '../components/Progress';
import { formatDuration, formatPriority, formatTime } from '../format';
import { useLoad } from '../hooks';
import { useLive } from '../live';
import type { Attempt, Task, TaskStateEvent } from '../types';

/**
 * One task: its record, payload, result, progress and every attempt. It loads again whenever the
 * stream says the task changed state, so a task being delivered is seen to finish without a reload.
 */
export function TaskView({ id }: { id: string }) {
	const { api, canWrite } = useApp();
	const task = useLoad(() => api.get<Task>(`/v1/tasks/${encodeURIComponent(id)}`), [id]);
	const queue = task.data?.queue ?? null;
	// Only this task's queue: its other tasks' events are filtered out by the engine, not here.
	useLive(queue === null ? [] : ['task.state'], queue === null ? [] : [queue], (event) => {
		if (event.type === 'reset' || (event.data as TaskStateEvent).id === id) task.reload();
	});

	if (task.error && !task.data) return <ErrorNotice error={task.error} retry={task.reload} />;
	if (!task.data) return <Loading what="the task" />;
	const t = task.data;
	const replace = (next: Task) => task.setData((before) => ({ ...before, ...next }));
	return (
		<>
			<nav aria-label="Breadcrumb" class="breadcrumb">
				<Link to={{ view: 'overview' }}>Queues</Link> <span aria-hidden="true">›</span> <Link to={{ view: 'queue', name: t.queue, state: null }}>{t.queue}</Link>{' '}
				<span aria-hidden="true">›</span> <span class="mono">{t.id}</span>
			</nav>
			<div class="title-row">
				<h1>
					Task <span class="mono">{t.name}</span> <StateBadge state={t.state} />
				</h1>
				{canWrite ? (
					<div class="actions">
						{t.state === 'failed' || t.state === 'cancelled' ? (
							<ActionButton kind="primary" run={async () => (replace(await api.post<Task>(`/v1/tasks/${t.id}/retry`)), 'Task queued again with a fresh set of attempts')}>
								Retry now
							</ActionButton>
						) : null}
						{t.state === 'scheduled' || t.state === 'queued' || t.state === 'retrying' ? (
							<ConfirmButton question={`Cancel task ${t.id}? It will not be delivered.`} confirm="Cancel task" run={async () => (replace(await api.post<Task>(`/v1/tasks/${t.id}/cancel`)), 'Task cancelled')}>
								Cancel…
							</ConfirmButton>
						) : null}
					</div>
				) : null}
			</div>

			<dl class="fields">
				<Field name="Id" value={<span class="mono">{t.id}</span>} />
				<Field name="Queue" value={<Link to={{ view: 'queue', name: t.queue, state: null }}>{t.queue}</Link>} />
				<Field name="Attempts" value={`${t.attemptCount} of ${t.maxAttempts}`} />
				<Field name="Priority" value={formatPriority(t.priority)} />
				<Field name="Created" value={formatTime(t.createdAt)} />
				<Field name="Due" value={formatTime(t.dueAt)} />
				<Field name="Started" value={formatTime(t.startedAt)} />
				<Field name="Finished" value={formatTime(t.finishedAt)} />
				<Field name="Timeout" value={`${t.timeoutSeconds} s`} />
				{t.deadlineAt ? <Field name="Deadline" value={formatTime(t.deadlineAt)} /> : null}
				{t.idempotencyKey ? <Field name="Idempotency key" value={<span class="mono">{t.idempotencyKey}</span>} /> : null}
				{t.url ? <Field name="Target URL" value={<span class="mono">{t.url}</span>} /> : null}
				{t.batch ? <Field name="Batch" value={<Link to={{ view: 'batches' }}>{`chunk ${t.batch.chunkIndex + 1} of ${t.batch.totalChunks} (${t.batch.id})`}</Link>} /> : null}
				{t.schedule ? <Field name="Schedule" value={`${t.schedule.name}, occurrence ${formatTime(t.schedule.occurrence)}`} /> : null}
				{t.lastError ? <Field name="Last error" value={<span class="error-text">{t.lastError}</span>} /> : null}
			</dl>

			{t.progress ? (
				<section aria-labelledby="progress-heading">
					<h2 id="progress-heading">Progress</h2>
					<TaskProgress percent={t.progress.percent} message={t.progress.message} />
					<p class="help">Reported {formatTime(t.progress.updatedAt)}</p>
				</section>
			) : null}

			<div class="two-columns">
				<section aria-labelledby="payload-heading">
					<h2 id="payload-heading">Payload</h2>
					<JsonBlock value={t.payload} label="Payload" />
				</section>
				<section aria-labelledby="result-heading">
					<h2 id="result-heading">Result</h2>
					{t.result === null || t.result === undefined ? <p class="empty">No result{t.state === 'completed' ? ' (the handler answered without a JSON body)' : ' yet'}.</p> : <JsonBlock value={t.result} label="Result" />}
				</section>
			</div>

			<section aria-labelledby="attempts-heading">
				<h2 id="attempts-heading">Attempts</h2>
				{t.attempts && t.attempts.length > 0 ? (
					<ol class="timeline">
						{t.attempts.map((a) => (
							<AttemptItem key={a.number} attempt={a} />
						))}
					</ol>
				) : (
					<p class="empty">No attempt yet.</p>
				)}
			</section>
		</>
	);
}

function Field({ name, value }: { name: string; value: ComponentChildren }) {
	return (
		<div>
			<dt>{name}</dt>
			<dd>{value}</dd>
		</div>
	);
}

/**
 * What an attempt's outcome reads as: delivered, or why not (status code, error class). An error
 * that only says the status ("HTTP 429 Too Many Requests") becomes the badge instead of a line of its own.
 */
function outcomeOf(a: Attempt): { text: string; kind: 'ok' | 'failed' | 'open'; error: string | null } {
	if (a.durationMs === null && a.statusCode === null && a.errorClass === null) return { text: 'in progress', kind: 'open', error: a.error };
	const ok = a.errorClass === null && a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
	const statusOnly = a.statusCode !== null && a.error !== null && /^HTTP \d{3}( [\w' -]+)?$/.test(a.error) && a.error.startsWith(`HTTP ${a.statusCode}`);
	const status = a.statusCode === null ? null : statusOnly ? a.error : `HTTP ${a.statusCode}`;
	const parts = [status, a.errorClass].filter(Boolean);
	return { text: parts.join(' · ') || a.outcome || 'ended', kind: ok ? 'ok' : 'failed', error: statusOnly ? null : a.error };
}

function AttemptItem({ attempt: a }: { attempt: Attempt }) {
	const outcome = outcomeOf(a);
	return (
		<li class={`attempt ${outcome.kind}`} data-attempt={a.number}>
			<div class="attempt-head">
				<strong>Attempt {a.number}</strong>
				<span class={`badge outcome-${outcome.kind}`}>{outcome.text}</span>
				<span>started {formatTime(a.startedAt)}</span>
				<span>took {formatDuration(a.durationMs)}</span>
			</div>
			{outcome.error ? <p class="error-text">{outcome.error}</p> : null}
			{a.responseSnippet ? (
				<details>
					<summary>Response snippet</summary>
					<pre class="json" tabIndex={0}>
						<code>{a.responseSnippet}</code>
					</pre>
				</details>
			) : null}
		</li>
	);
}
