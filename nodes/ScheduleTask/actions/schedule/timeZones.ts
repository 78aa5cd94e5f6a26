import type { IExecuteFunctions, ILoadOptionsFunctions, INodeProperties, INodePropertyOptions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { isKnownTimeZone } from '../../../shared/time';

/**
 * The time zone of a schedule, picked from a list as in n8n's own nodes (Date & Time, Google
 * Calendar: "Timezone Name or ID" with a `getTimezones` list), the workflow's time zone first and
 * the default. An expression may give any IANA name.
 */

/** The value that stands for the workflow's time zone (not an IANA name, so it cannot clash). */
export const WORKFLOW_TIME_ZONE = 'workflow';

export const timeZoneProperty: INodeProperties = {
	displayName: 'Time Zone Name or ID',
	name: 'timezone',
	type: 'options',
	typeOptions: { loadOptionsMethod: 'getTimeZones' },
	default: WORKFLOW_TIME_ZONE,
	description:
		'The time zone the schedule\'s hours and days are read in; the workflow\'s by default. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
};

/**
 * `loadOptions` method behind the list: the workflow's time zone, UTC, then every IANA zone the
 * runtime knows — the same time zone data the engine checks names against.
 */
export async function getTimeZones(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const zones = Intl.supportedValuesOf('timeZone').filter((zone) => zone !== 'UTC');
	return [
		{ name: `Workflow Time Zone (${this.getTimezone()})`, value: WORKFLOW_TIME_ZONE },
		{ name: 'UTC', value: 'UTC' },
		...zones.map((zone) => ({ name: zone.replace(/_/g, ' '), value: zone })),
	];
}

/** The chosen time zone as an IANA name: the workflow's for the default (or an empty expression). */
export function timeZoneParameter(this: IExecuteFunctions, itemIndex: number): string {
	const chosen = String(this.getNodeParameter('timezone', itemIndex, WORKFLOW_TIME_ZONE) ?? '').trim();
	const timezone = chosen === '' || chosen === WORKFLOW_TIME_ZONE ? this.getTimezone() : chosen;
	if (!isKnownTimeZone(timezone)) {
		throw new NodeOperationError(this.getNode(), `Time Zone "${timezone}" is not a known IANA time zone`, { itemIndex });
	}
	return timezone;
}
