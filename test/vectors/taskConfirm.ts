import { readFileSync } from 'node:fs';

/** One case of test/vectors/task-confirm.json: the x-task-confirm header for these inputs. */
export interface ConfirmVector {
	name: string;
	secret: string;
	id: string;
	attempt: number;
	timestamp: number;
	header: string;
}

/** The confirmation marker's shared vectors, checked by the engine's tests and the Task Trigger's alike. */
export const confirmVectors: ConfirmVector[] = (
	JSON.parse(readFileSync(new URL('./task-confirm.json', import.meta.url), 'utf8')) as { vectors: ConfirmVector[] }
).vectors;
