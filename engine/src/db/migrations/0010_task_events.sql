-- The event log behind the live event stream (docs/architecture.md "Live events", engine/src/events).
--
-- Every visible state change of every task becomes one row here, written by statement-level
-- triggers on `tasks`, so every writer (enqueue, claim, settlement, rescuer, cancel, retry,
-- redrive, batches, schedules, and any writer added later) is covered without knowing about it.
-- The visible state is the API's: a `queued` task whose due time is still ahead reads `scheduled`.
-- A task that becomes `failed` also gets a `task.dead_lettered` row (kind 'dead_lettered').
--
-- Ids come from one sequence, so they are global across engines: a stream may be resumed on any
-- engine. They are taken when the statement ends, not when its transaction commits, so a reader
-- can see id 11 before id 10 commits: readers keep such gaps open for a while and read them again
-- (events/eventCursor.ts). Rows older than the resume window are trimmed
-- (maintenance/eventLogTrimmer.ts); `task_event_horizon` remembers the highest id trimmed, so a
-- resume position below it is known to be outside the window.

CREATE TABLE task_events (
  id        bigserial PRIMARY KEY,
  kind      text NOT NULL CHECK (kind IN ('state', 'dead_lettered')),
  at        timestamptz NOT NULL,         -- the changing transaction's now(), as the task's own timestamps
  task_id   uuid NOT NULL,
  queue     text NOT NULL,
  name      text NOT NULL,
  state     text NOT NULL,
  attempt   int NOT NULL,
  batch_id  uuid
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);

CREATE TABLE task_event_horizon (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  trimmed_through bigint NOT NULL DEFAULT 0
);
INSERT INTO task_event_horizon DEFAULT VALUES;

-- One function for both triggers. `search_path` is fixed to this schema's (the migration runs with
-- it first), so a session with another search path that writes tasks still logs here. It runs on
-- the hot path (claims and settlements move tasks in groups): one INSERT per statement, the
-- dead-letter rows from its RETURNING (none in the common case), no sort. An UPDATE's visible state
-- changed when the stored state did, or when a queued task's due time moved across now(). The
-- notify is one per transaction at most (PostgreSQL folds equal notifications of a transaction into
-- one) and is delivered at commit, when the rows become readable.
CREATE FUNCTION log_task_state_changes() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  logged bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH state_rows AS (
      INSERT INTO task_events (kind, at, task_id, queue, name, state, attempt, batch_id)
      SELECT 'state', now(), n.id, n.queue, n.name,
        CASE WHEN n.state = 'queued' AND n.due_at > now() THEN 'scheduled' ELSE n.state END, n.attempt_count, n.batch_id
      FROM new_rows n
      RETURNING task_id, queue, name, state, attempt, batch_id
    ), dead_rows AS (
      INSERT INTO task_events (kind, at, task_id, queue, name, state, attempt, batch_id)
      SELECT 'dead_lettered', now(), task_id, queue, name, state, attempt, batch_id FROM state_rows WHERE state = 'failed'
    )
    SELECT count(*) INTO logged FROM state_rows;
  ELSE
    WITH state_rows AS (
      INSERT INTO task_events (kind, at, task_id, queue, name, state, attempt, batch_id)
      SELECT 'state', now(), n.id, n.queue, n.name,
        CASE WHEN n.state = 'queued' AND n.due_at > now() THEN 'scheduled' ELSE n.state END, n.attempt_count, n.batch_id
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE n.state <> o.state OR (n.state = 'queued' AND (n.due_at > now()) <> (o.due_at > now()))
      RETURNING task_id, queue, name, state, attempt, batch_id
    ), dead_rows AS (
      INSERT INTO task_events (kind, at, task_id, queue, name, state, attempt, batch_id)
      SELECT 'dead_lettered', now(), task_id, queue, name, state, attempt, batch_id FROM state_rows WHERE state = 'failed'
    )
    SELECT count(*) INTO logged FROM state_rows;
  END IF;
  IF logged > 0 THEN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.events', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_log_inserted AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_task_state_changes();

CREATE TRIGGER tasks_log_updated AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION log_task_state_changes();
