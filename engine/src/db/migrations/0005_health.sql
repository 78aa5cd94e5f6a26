-- Health figures and retention (engine/src/health, engine/src/maintenance/retentionCleaner.ts).
--
-- Attempts carry their queue, so per-queue figures over a time window (failures, durations,
-- lateness, recovered deliveries) are one index range per queue instead of a join through tasks;
-- and the due time the attempt was started against, so lateness (start − due) is exact for retries
-- too. Both are written by settlement (delivery/settlement.ts). Attempts are never updated, so the
-- covering index serves index-only scans once vacuum has marked the pages all-visible.
ALTER TABLE attempts ADD COLUMN queue text;
ALTER TABLE attempts ADD COLUMN due_at timestamptz;
UPDATE attempts a SET queue = t.queue FROM tasks t WHERE t.id = a.task_id;
CREATE INDEX attempts_queue_started ON attempts (queue, started_at)
  INCLUDE (outcome, error_class, duration_ms, due_at, handler_id);

-- Final tasks by queue, state and finish time: completed/failed within a window, dead letters and
-- cancelled counts (health), and the oldest finished tasks first (retention).
CREATE INDEX tasks_finished ON tasks (queue, state, finished_at) WHERE state IN ('completed', 'failed', 'cancelled');


-- Waiting tasks (queued, scheduled, retrying) are counted per queue from this index alone: the
-- same key as before, now carrying the columns the counts look at. Tasks scheduled ahead are rows
-- that do not change until they are due, so vacuum marks them all-visible and a large set of
-- delayed tasks costs an index range, not a heap visit per task.
DROP INDEX tasks_waiting_due;
CREATE INDEX tasks_waiting_due ON tasks (queue, due_at) INCLUDE (state, url, event) WHERE state IN ('queued', 'retrying');
