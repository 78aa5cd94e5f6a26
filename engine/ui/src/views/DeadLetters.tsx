import { useState } from 'preact/hooks';
import { useApp } from '../context';
import { ActionButton, ConfirmButton } from '../components/Actions';
import { Link } from '../components/Link';
import { Empty, ErrorNotice, Loading } from '../components/Notice';
import { describeFailure, formatCount, formatTime, shortId } from '../format';
import { useLoad, useThrottled } from '../hooks';
import { useLive } from '../live';
import { hrefOf, navigate } from '../router';
import type { DeadLetterGroup } from '../types';

/** Sample task ids shown per group (the API gives up to 100, newest first). */
const SAMPLE = 5;

/**
 * Failed tasks grouped by error signature (same status, error class and message): redrive a group
 * once its cause is fixed (same ids, a fresh set of attempts), or discard it. New dead letters
 * (`task.dead_lettered`) reload the groups, at most once a second.
 */
export function DeadLetters({ queue }: { queue: string | null }) {
	const { api, canWrite } = useApp();
	const groups = useLoad(() => api.get<{ groups: DeadLetterGroup[] }>('/v1/dead-letters', { queue }), [queue]);
	const reloadSoon = useThrottled(groups.reload, 1000);
	useLive(['task.dead_lettered'], queue === null ? null : [queue], reloadSoon);

	const drop = (g: DeadLetterGroup) => groups.setData((d) => ({ groups: d.groups.filter((x) => !(x.signature === g.signature && x.queue === g.queue)) }));
	return (
		<>
			<h1>Dead letters{queue ? <> of <span class="mono">{queue}</span></> : null}</h1>
			<QueueFilter queue={queue} />
			{groups.error && !groups.data ? <ErrorNotice error={groups.error} retry={groups.reload} /> : null}
			{!groups.data && !groups.error ? <Loading what="dead letters" /> : null}
			{groups.data && groups.data.groups.length === 0 ? <Empty>No dead letters{queue ? ` in ${queue}` : ''}. Every failed task would be listed here, grouped by its error.</Empty> : null}
			{groups.data?.groups.map((g) => (
				<article class="card dead-letter" key={`${g.queue} ${g.signature}`} data-signature={g.signature} aria-labelledby={`dl-${g.signature}-${g.queue}`}>
					<header>
						<h2 id={`dl-${g.signature}-${g.queue}`}>
							<span class="count-big">{formatCount(g.count)}</span> {g.count === 1 ? 'task' : 'tasks'} in <Link to={{ view: 'queue', name: g.queue, state: 'failed' }}>{g.queue}</Link>
						</h2>
						<p class="error-text">{describeFailure(g.statusCode, g.errorClass, g.message)}</p>
					</header>
					<p class="help">
						First {formatTime(g.firstAt)}, last {formatTime(g.lastAt)} · signature <span class="mono">{g.signature}</span>
					</p>
					<p>
						Newest:{' '}
						{g.taskIds.slice(0, SAMPLE).map((id, i) => (
							<span key={id}>
								{i > 0 ? ', ' : ''}
								<Link to={{ view: 'task', id }} class="mono" label={`Task ${id}`}>
									{shortId(id)}
								</Link>
							</span>
						))}
						{g.count > SAMPLE ? ` and ${formatCount(g.count - SAMPLE)} more` : ''}
					</p>
					{canWrite ? (
						<div class="actions">
							<ActionButton
								kind="primary"
								label={`Redrive ${g.count} ${g.queue} tasks failing with ${g.message}`}
								run={async () => {
									const answer = await api.post<{ redriven: number; remaining: number }>('/v1/dead-letters/redrive', { queue: g.queue, signature: g.signature });
									if (answer.remaining > 0) groups.reload();
									else drop(g);
									return `Redrove ${formatCount(answer.redriven)} ${answer.redriven === 1 ? 'task' : 'tasks'}${answer.remaining > 0 ? `; ${formatCount(answer.remaining)} left — redrive again` : ''}`;
								}}
							>
								Redrive
							</ActionButton>
							<ConfirmButton
								label={`Discard ${g.count} ${g.queue} tasks failing with ${g.message}`}
								question={`Discard ${formatCount(g.count)} failed ${g.count === 1 ? 'task' : 'tasks'} of ${g.queue} with their attempts? This cannot be undone.`}
								confirm="Discard"
								run={async () => {
									const answer = await api.delete<{ discarded: number }>('/v1/dead-letters', { queue: g.queue, signature: g.signature });
									drop(g);
									return `Discarded ${formatCount(answer.discarded)} ${answer.discarded === 1 ? 'task' : 'tasks'}`;
								}}
							>
								Discard…
							</ConfirmButton>
						</div>
					) : null}
				</article>
			))}
		</>
	);
}

function QueueFilter({ queue }: { queue: string | null }) {
	const [text, setText] = useState(queue ?? '');
	return (
		<form
			class="search"
			onSubmit={(event) => {
				event.preventDefault();
				navigate(hrefOf({ view: 'deadLetters', queue: text.trim() || null }));
			}}
		>
			<label for="dl-queue">Queue</label>
			<input id="dl-queue" type="text" placeholder="every queue" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
			<button type="submit">Filter</button>
		</form>
	);
}
