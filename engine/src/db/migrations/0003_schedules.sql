-- Schedules: a cron expression (5 or 6 fields, IANA time zone) or a fixed interval that turns each
-- occurrence into one task. Exactly once per occurrence, with any number of engines, because an
-- occurrence is only fired by the transaction that moves `next_fire_at` past it (row lock +
-- compare-and-set on the old value) and that same transaction inserts the task.

CREATE TABLE schedules (
  id               uuid PRIMARY KEY,
  name             text NOT NULL UNIQUE,
  -- A deleted queue takes its schedules with it (they could never fire again).
  queue            text NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
  task_name        text,                        -- null: tasks are named after the schedule
  payload          jsonb NOT NULL DEFAULT '{}',
  url              text,
  priority         int CHECK (priority BETWEEN -100 AND 100),
  retry            jsonb,                       -- partial policy: only what the schedule overrides
  timeout_seconds  int CHECK (timeout_seconds BETWEEN 1 AND 3600),
  cron             text,
  every_seconds    int CHECK (every_seconds >= 1),
  timezone         text NOT NULL DEFAULT 'UTC',
  start_at         timestamptz,
  end_at           timestamptz,
  misfire          text NOT NULL DEFAULT 'skip' CHECK (misfire IN ('skip', 'run_once')),
  overlap          text NOT NULL DEFAULT 'allow' CHECK (overlap IN ('allow', 'skip')),
  paused           boolean NOT NULL DEFAULT false,
  -- The next occurrence not yet turned into a task; null while paused and after end_at.
  next_fire_at     timestamptz,
  -- The latest occurrence turned into a task: recomputing never goes back to or before it.
  last_fire_at     timestamptz,
  fire_count       bigint NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((cron IS NULL) <> (every_seconds IS NULL)),
  CHECK (start_at IS NULL OR end_at IS NULL OR end_at > start_at)
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE INDEX schedules_queue ON schedules (queue, name);
