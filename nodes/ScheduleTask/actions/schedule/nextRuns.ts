import type { NodeExecutionHint } from 'n8n-workflow';

import { readableInstant } from '../../../shared/time';

/**
 * Next runs where n8n lets a node show them without a click: a hint over the output pane, in the
 * schedule's time zone (the engine answers in UTC).
 */
export function nextRunsHint(fireTimes: string[], timezone: string, lead: string): NodeExecutionHint {
	if (fireTimes.length === 0) return { message: `${lead}: never (it has no run left, e.g. past its End At)`, location: 'outputPane' };
	// Seconds only for rules that have them (every 30 seconds, a 6-field cron).
	const withSeconds = fireTimes.some((at) => new Date(at).getUTCSeconds() !== 0);
	const runs = fireTimes.map((at) => readableInstant(at, timezone, withSeconds));
	return { message: `${lead} (${timezone}): ${runs.join(' · ')}`, location: 'outputPane' };
}
