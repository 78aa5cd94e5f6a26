import type { IDisplayOptions } from 'n8n-workflow';

/**
 * Node versions. A change that would alter what a saved workflow does comes with a new version
 * (n8n keeps each saved node at its `typeVersion`; new nodes get the `defaultVersion`), and the
 * parameters of each version are told apart by `displayOptions` on `@version`, as n8n's own
 * light-versioned nodes do.
 *
 * 1.1 (Enqueue Task, Batch Process): policy fields inherit unless set, retry fields in one "Retry"
 * section, task priorities output by class name; Batch Process's "Wait Until Finished" on top.
 * 1.1 (Schedule Task): a friendly trigger interval by default (version 1 defaults to cron), time
 * zones from a list, Preview Next Runs of the rule before it is saved, next runs in a hint; its
 * task policy as in Enqueue Task 1.1 (inherited unless set, a "Retry" section, class names).
 * 1.1 (Queue Health): Redrive picks a dead-letter group from a list (version 1: a signature typed in).
 *
 * Not versioned, because a saved workflow does the same as before: the Task Trigger's Finish
 * (its default is the old behaviour), Receive → Dead Letters and Queue Settings; Enqueue Task's
 * Complete, Fail and Heartbeat operations, its "Fields Below" payload and its Async Timeout,
 * Concurrency Key and Debounce options (new choices only).
 */
export const shownInVersion1: IDisplayOptions['show'] = { '@version': [1] };
export const shownFromVersion1_1: IDisplayOptions['show'] = { '@version': [{ _cnd: { gte: 1.1 } }] };
