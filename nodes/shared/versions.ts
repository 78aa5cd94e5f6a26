import type { IDisplayOptions } from 'n8n-workflow';

/**
 * Node versions. A change that would alter what a saved workflow does comes with a new version
 * (n8n keeps each saved node at its `typeVersion`; new nodes get the `defaultVersion`), and the
 * parameters of each version are told apart by `displayOptions` on `@version`, as n8n's own
 * light-versioned nodes do.
 *
 * 1.1 (Enqueue Task, Batch Process): policy fields inherit unless set, retry fields in one "Retry"
 * section, task priorities output by class name; Batch Process's "Wait Until Finished" on top.
 */
export const shownInVersion1: IDisplayOptions['show'] = { '@version': [1] };
export const shownFromVersion1_1: IDisplayOptions['show'] = { '@version': [{ _cnd: { gte: 1.1 } }] };
