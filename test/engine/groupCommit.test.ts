import { describe, expect, it } from 'vitest';
import { GroupCommit, type Waiting } from '../../engine/src/db/groupCommit.js';

/** The group commit both hot-path writers share: grouping, parallelism, requeue and hold. */
describe('GroupCommit', () => {
	/** A writer whose writes finish when the test says so; it records each group. */
	function controlledWriter(maxParallel: number, maxGroup: number) {
		const groups: number[][] = [];
		const finish: (() => void)[] = [];
		const commits = new GroupCommit<number, string>({
			maxParallel,
			maxGroup,
			write: (group: Waiting<number, string>[]) => {
				groups.push(group.map((w) => w.item));
				return new Promise<void>((resolve) =>
					finish.push(() => {
						for (const w of group) w.resolve(`ok ${w.item}`);
						resolve();
					}),
				);
			},
		});
		return { commits, groups, finish };
	}
	const tick = () => new Promise((r) => setImmediate(r));

	it('writes what arrives in one turn of the event loop as one group, and what arrives during a write as the next', async () => {
		const { commits, groups, finish } = controlledWriter(1, 500);
		const answers = [commits.add(1), commits.add(2)];
		expect(groups).toEqual([]);
		await tick();
		expect(groups).toEqual([[1, 2]]);
		answers.push(commits.add(3), commits.add(4));
		await tick();
		expect(groups).toEqual([[1, 2]]);
		expect(commits.backlog).toBe(2);
		finish.shift()!();
		await tick();
		expect(groups).toEqual([[1, 2], [3, 4]]);
		finish.shift()!();
		expect(await Promise.all(answers)).toEqual(['ok 1', 'ok 2', 'ok 3', 'ok 4']);
	});

	it('starts up to maxParallel groups and splits at maxGroup', async () => {
		const { commits, groups, finish } = controlledWriter(2, 2);
		const answers = [1, 2, 3, 4, 5].map((n) => commits.add(n));
		await tick();
		expect(groups).toEqual([[1, 2], [3, 4]]);
		finish.shift()!();
		await tick();
		expect(groups).toEqual([[1, 2], [3, 4], [5]]);
		while (finish.length > 0) {
			finish.shift()!();
			await tick();
		}
		expect(await Promise.all(answers)).toHaveLength(5);
	});

	it('rejects the items of a group whose write throws, and goes on with the next', async () => {
		let calls = 0;
		const commits = new GroupCommit<number, number>({
			maxParallel: 1,
			maxGroup: 10,
			write: async (group) => {
				calls += 1;
				if (calls === 1) throw new Error('boom');
				for (const w of group) w.resolve(w.item * 10);
			},
		});
		await expect(commits.add(1)).rejects.toThrow('boom');
		expect(await commits.add(2)).toBe(20);
	});

	it('writes a requeued group first once resumed, and nothing while held', async () => {
		const written: number[][] = [];
		let failOnce = true;
		const commits: GroupCommit<number, number> = new GroupCommit<number, number>({
			maxParallel: 1,
			maxGroup: 10,
			write: async (group) => {
				if (failOnce) {
					failOnce = false;
					commits.requeue(group);
					commits.hold();
					return;
				}
				written.push(group.map((w) => w.item));
				for (const w of group) w.resolve(w.item);
			},
		});
		const answers = [commits.add(1), commits.add(2)];
		await tick();
		commits.add(3).catch(() => undefined);
		await tick();
		expect(written).toEqual([]);
		expect(commits.backlog).toBe(3);
		commits.resume();
		expect(await Promise.all(answers)).toEqual([1, 2]);
		expect(written[0]).toEqual([1, 2, 3]);
	});

	it('holds a group at its gate: what arrives meanwhile joins it, and the gate is asked once per group', async () => {
		const groups: number[][] = [];
		const asked: number[] = [];
		let open: (() => void) | null = null;
		const commits = new GroupCommit<number, number>({
			maxParallel: 1,
			maxGroup: 10,
			write: async (group) => {
				groups.push(group.map((w) => w.item));
				for (const w of group) w.resolve(w.item);
			},
			gate: (waiting) => {
				asked.push(waiting);
				// Only the first group waits (for the answers "due soon" the test adds below).
				return asked.length === 1 ? new Promise<void>((resolve) => (open = resolve)) : null;
			},
		});
		const first = commits.add(1);
		await tick();
		expect(asked).toEqual([1]);
		expect(groups).toEqual([]);
		const more = [commits.add(2), commits.add(3)];
		await tick();
		expect(groups).toEqual([]);
		open!();
		expect(await Promise.all([first, ...more])).toEqual([1, 2, 3]);
		expect(groups).toEqual([[1, 2, 3]]);
		expect(asked).toEqual([1]);
		// The next group is asked again, and goes at once when the gate says so.
		expect(await commits.add(4)).toBe(4);
		expect(groups).toEqual([[1, 2, 3], [4]]);
		expect(asked).toEqual([1, 1]);
	});

	it('drain takes every waiting item out for the caller to answer', async () => {
		const { commits, groups } = controlledWriter(1, 10);
		commits.add(1);
		await tick();
		expect(groups).toEqual([[1]]);
		const waiting = [commits.add(2), commits.add(3)];
		commits.hold();
		const drained = commits.drain();
		expect(drained.map((w) => w.item)).toEqual([2, 3]);
		for (const w of drained) w.reject(new Error('stopping'));
		for (const p of waiting) await expect(p).rejects.toThrow('stopping');
		expect(commits.backlog).toBe(0);
	});
});
