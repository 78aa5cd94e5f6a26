-- Work longer than one HTTP exchange (docs/async-completion.md).
--
-- A handler may answer 202: the attempt stays open (the task `active`, owned by no engine) until
-- the handler reports on it (`/v1/tasks/{id}/attempts/{n}/complete|fail|heartbeat`) or until
-- `deadline_at` passes. `async_timeout_seconds` is how long an open attempt may wait for a report
-- or the next heartbeat: the task's own, else its queue's, else 3,600.
ALTER TABLE queues ADD COLUMN async_timeout_seconds int CHECK (async_timeout_seconds BETWEEN 1 AND 86400);
ALTER TABLE tasks
  ADD COLUMN async_timeout_seconds int CHECK (async_timeout_seconds BETWEEN 1 AND 86400),
  ADD COLUMN deadline_at timestamptz,
  ADD COLUMN progress jsonb;

-- How an attempt was closed when a report closed it (a repeated report of the same kind is a no-op).
ALTER TABLE attempts ADD COLUMN report text CHECK (report IN ('complete', 'fail'));

-- Open async attempts, for health (open, stuck) and for the rescuer's deadline sweep.
CREATE INDEX tasks_async_open ON tasks (queue, deadline_at) WHERE state = 'active' AND deadline_at IS NOT NULL;
-- Async attempts that ended at their deadline without a report (health: missed deadlines).
CREATE INDEX attempts_missed_deadlines ON attempts (queue, started_at) WHERE error_class = 'timeout' AND status_code = 202;

-- Dead-letter events: a task delivered to a queue's `dead_letter` handlers when another task of the
-- queue becomes a dead letter (docs/async-completion.md, "Dead-letter events").
ALTER TABLE tasks DROP CONSTRAINT tasks_event_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_event_check CHECK (event IN ('task', 'batch', 'dead_letter'));
