import { useApp } from '../context';
import { ActionButton } from './Actions';

/** Pause or resume a queue's deliveries (tasks are still accepted while paused). */
export function PauseButton({ queue, paused, onDone }: { queue: string; paused: boolean; onDone: (paused: boolean) => void }) {
	const { api } = useApp();
	const action = paused ? 'resume' : 'pause';
	return (
		<ActionButton
			label={`${paused ? 'Resume' : 'Pause'} queue ${queue}`}
			run={async () => {
				const answer = await api.post<{ paused: boolean }>(`/v1/queues/${encodeURIComponent(queue)}/${action}`);
				onDone(answer.paused);
				return answer.paused ? `Queue ${queue} paused: nothing is delivered until it is resumed` : `Queue ${queue} resumed`;
			}}
		>
			{paused ? 'Resume' : 'Pause'}
		</ActionButton>
	);
}
