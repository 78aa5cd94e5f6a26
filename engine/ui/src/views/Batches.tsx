import { useApp } from '../context';
import { ActionButton, ConfirmButton } from '../components/Actions';
import { StateBadge } from '../components/Badges';
import { Link } from '../components/Link';
import { Empty, ErrorNotice, Loading } from '../components/Notice';
import { Pager, usePager } from '../components/Pager';
import { BatchProgress } from '../components/Progress';
import { formatCount, formatDuration, formatRate, formatTime, shortId } from '../format';
import { useLoad, useThrottled } from '../hooks';
import { useLive } from '../live';
import type { Batch, Page } from '../types';

const PAGE_SIZE = 25;
const FINAL = ['completed', 'completed_with_failures', 'failed', 'cancelled'];

/**
 * Batches, newest first, 25 at a time: a progress bar, throughput and ETA each, moved by the
 * stream's `batch.progress` (at most once a second per batch). A batch this page has not loaded
 * yet (created since) brings the first page back.
 */
export function Batches() {
	const { api, canWrite } = useApp();
	const pager = usePager('batches');
	const batches = useLoad(() => api.get<Page<Batch>>('/v1/batches', { limit: PAGE_SIZE, cursor: pager.cursor }), [pager.cursor]);
	const reloadSoon = useThrottled(batches.reload, 1000);
	useLive(['batch.progress'], null, (event) => {
		if (event.type === 'reset') return batches.reload();
		const next = event.data as Batch;
		if (batches.data?.items.some((b) => b.id === next.id)) replace(next);
		else if (pager.page === 1) reloadSoon();
	});
	const replace = (next: Batch) => batches.setData((page) => ({ ...page, items: page.items.map((b) => (b.id === next.id ? { ...b, ...next } : b)) }));

	return (
		<>
			<h1>Batches</h1>
			{batches.error && !batches.data ? <ErrorNotice error={batches.error} retry={batches.reload} /> : null}
			{!batches.data && !batches.error ? <Loading what="batches" /> : null}
			{batches.data && batches.data.items.length === 0 ? <Empty>No batches. The Batch Process node and POST /v1/batches create them.</Empty> : null}
			{batches.data?.items.map((b) => (
				<article class="card batch" key={b.id} data-batch={b.id} aria-labelledby={`batch-${b.id}`}>
					<header class="title-row">
						<h2 id={`batch-${b.id}`}>
							<span class="mono">{b.name}</span> <span class="help mono">{shortId(b.id)}</span> <StateBadge state={b.state} />
						</h2>
						{canWrite ? (
							<div class="actions">
								{FINAL.includes(b.state) && b.chunks.failed > 0 ? (
									<ActionButton
										kind="primary"
										label={`Retry the ${b.chunks.failed} failed chunks of batch ${b.name}`}
										run={async () => {
											replace(await api.post<Batch>(`/v1/batches/${b.id}/retry-failed`));
											return `Retrying ${formatCount(b.chunks.failed)} failed chunks of ${b.name}`;
										}}
									>
										Retry failed
									</ActionButton>
								) : null}
								{!FINAL.includes(b.state) ? (
									<ConfirmButton
										label={`Cancel batch ${b.name}`}
										question={`Cancel batch ${b.name}? Chunks not started are cancelled; chunks being delivered finish.`}
										confirm="Cancel batch"
										run={async () => {
											replace(await api.post<Batch>(`/v1/batches/${b.id}/cancel`));
											return `Batch ${b.name} cancelled`;
										}}
									>
										Cancel…
									</ConfirmButton>
								) : null}
							</div>
						) : null}
					</header>
					<BatchProgress completed={b.chunks.completed} failed={b.chunks.failed} total={b.totalChunks} />
					<dl class="fields compact">
						<div>
							<dt>Queue</dt>
							<dd>
								<Link to={{ view: 'queue', name: b.queue, state: null }}>{b.queue}</Link>
							</dd>
						</div>
						<div>
							<dt>Items</dt>
							<dd>
								{formatCount(b.items.processed)} of {formatCount(b.totalItems)} processed{b.items.failed ? `, ${formatCount(b.items.failed)} failed` : ''}
							</dd>
						</div>
						<div>
							<dt>Chunks active / waiting</dt>
							<dd>
								{formatCount(b.chunks.active)} / {formatCount(b.chunks.pending)}
							</dd>
						</div>
						<div>
							<dt>Throughput</dt>
							<dd>{b.throughputPerSecond === null ? '–' : `${formatRate(b.throughputPerSecond)} items/s`}</dd>
						</div>
						<div>
							<dt>ETA</dt>
							<dd data-eta>{FINAL.includes(b.state) ? 'done' : b.etaSeconds === null ? '–' : `about ${formatDuration(b.etaSeconds * 1000)}`}</dd>
						</div>
						<div>
							<dt>Created</dt>
							<dd>{formatTime(b.createdAt)}</dd>
						</div>
						<div>
							<dt>Finished</dt>
							<dd>{formatTime(b.finishedAt)}</dd>
						</div>
					</dl>
				</article>
			))}
			{batches.data ? <Pager what="batches" page={pager.page} nextCursor={batches.data.nextCursor} onOlder={pager.older} onNewer={pager.newer} /> : null}
		</>
	);
}
