import type { EventLoopUtilization } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { IdleMemory, type MemoryProbes } from '../../engine/src/maintenance/idleMemory.js';
import { createLogger } from '../../engine/src/log.js';

const MiB = 1024 * 1024;

/**
 * When the engine gives its heap back (maintenance/idleMemory.ts): only in an interval the event
 * loop was idle, and only when the heap has grown since the last collection.
 * The heap and the event loop are the test's; the collector records its calls.
 */
describe('IdleMemory', () => {
	function engineState() {
		const state = { busy: 0, total: 80 * MiB, used: 35 * MiB, collections: 0 };
		const probes: MemoryProbes = {
			heap: () => ({ total: state.total, used: state.used }),
			// Utilisation of the interval since the last look is what the test set it to.
			loop: (last?: EventLoopUtilization) => ({ idle: 0, active: 0, utilization: last ? state.busy : 0 }),
		};
		const collect = () => {
			state.collections += 1;
			state.total = state.used + 4 * MiB;
		};
		const memory = new IdleMemory(collect, createLogger('silent'), { intervalMs: 1000, idleBelow: 0.02, growthBytes: 16 * MiB }, probes);
		return { state, memory };
	}

	it('collects once an idle interval finds the heap grown, and not while the engine is busy', () => {
		const { state, memory } = engineState();
		state.busy = 0.4;
		expect(memory.check()).toBe(false);
		state.busy = 0.01;
		expect(memory.check()).toBe(true);
		expect(state.collections).toBe(1);
		expect(state.total).toBe(39 * MiB);
	});

	it('does not collect again until the heap has grown by growthBytes since the last collection', () => {
		const { state, memory } = engineState();
		expect(memory.check()).toBe(true);
		// Garbage piles up while idle: used grows, the heap does not.
		state.used = 38 * MiB;
		expect(memory.check()).toBe(false);
		state.total = 54 * MiB;
		expect(memory.check()).toBe(false);
		state.total = 55 * MiB;
		expect(memory.check()).toBe(true);
		expect(state.collections).toBe(2);
	});

	it('does nothing without a collector (node started without --expose-gc)', () => {
		const memory = new IdleMemory(undefined, createLogger('silent'));
		expect(memory.check()).toBe(false);
		memory.start();
		memory.stop();
	});
});
