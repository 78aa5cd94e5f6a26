// Canvas subtitles, resolved the way n8n's editor resolves them: with n8n-workflow's expression
// engine on the node, where `$parameter` hands out a resource locator's value, not its object.
import { describe, expect, it } from 'vitest';
import { canvasSubtitle } from './harness.js';
import { byName } from './nodeEngine.js';

describe('canvas subtitles', () => {
	describe('Task Trigger', () => {
		it('shows the queue picked from the list', () => {
			const queue = { __rl: true, mode: 'list', value: 'emails', cachedResultName: 'emails' };
			expect(canvasSubtitle('taskTrigger', { queue })).toBe('queue: emails');
		});

		it('shows a queue typed by name, and one given as an expression', () => {
			expect(canvasSubtitle('taskTrigger', { queue: byName('invoices') })).toBe('queue: invoices');
			expect(canvasSubtitle('taskTrigger', { queue: byName('={{ "in" + "voices" }}') })).toBe('queue: invoices');
		});

		it('shows nothing while no queue is chosen (a new node)', () => {
			expect(canvasSubtitle('taskTrigger', {})).toBe('');
		});

		it('would show "queue: undefined" with `.value`: the locator is already resolved', () => {
			// The expression of version 0.1.0, kept here so the evaluation model above is known to be n8n's.
			const old = '={{"queue: " + $parameter["queue"].value}}';
			expect(canvasSubtitle('taskTrigger', { queue: byName('emails') }, { subtitle: old })).toBe('queue: undefined');
		});
	});

	it('shows operation and resource on the other nodes', () => {
		expect(canvasSubtitle('enqueueTask', {})).toBe('enqueue: task');
		expect(canvasSubtitle('batchProcess', { operation: 'get' })).toBe('get: batch');
		expect(canvasSubtitle('scheduleTask', {})).toMatch(/: schedule$/);
		expect(canvasSubtitle('queueHealth', {})).toMatch(/^\w+: \w+$/);
	});
});
