-- Core tables: queues, their handlers, tasks and their attempts, API keys and engine heartbeats.
-- Every statement is unqualified: the migration runs with the engine's schema on the search path.

CREATE TABLE api_keys (
  hash        bytea PRIMARY KEY,          -- sha256 of the key; the key itself is never stored
  label       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE engines (
  id            uuid PRIMARY KEY,
  hostname      text NOT NULL,
  pid           int NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE queues (
  name                        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
  retry                       jsonb NOT NULL DEFAULT '{}',   -- partial policy: only what the queue overrides
  timeout_seconds             int CHECK (timeout_seconds BETWEEN 1 AND 3600),
  priority                    int CHECK (priority BETWEEN -100 AND 100),
  concurrency                 int NOT NULL DEFAULT 10 CHECK (concurrency >= 1),
  rate_limit_max              int CHECK (rate_limit_max >= 1),
  rate_limit_period_seconds   int CHECK (rate_limit_period_seconds >= 1),
  paused                      boolean NOT NULL DEFAULT false,
  secret                      text NOT NULL,
  previous_secret             text,
  previous_secret_expires_at  timestamptz,
  -- fixed-window rate limiter shared by every engine (claimed under the queue's dispatch lock)
  rate_window_start           timestamptz,
  rate_window_count           int NOT NULL DEFAULT 0,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE handlers (
  id                    uuid PRIMARY KEY,
  queue                 text NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
  url                   text NOT NULL,
  events                text[] NOT NULL DEFAULT '{task}',
  mode                  text NOT NULL DEFAULT 'production' CHECK (mode IN ('production', 'test')),
  secret                text NOT NULL,
  healthy               boolean NOT NULL DEFAULT true,
  consecutive_failures  int NOT NULL DEFAULT 0,
  deliveries            bigint NOT NULL DEFAULT 0,
  successes             bigint NOT NULL DEFAULT 0,
  last_success_at       timestamptz,
  last_failure_at       timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX handlers_queue_url_mode ON handlers (queue, url, mode);

-- Stored states; `scheduled` is not stored: it is a `queued` task whose due_at is still ahead
-- (see engine/src/tasks/states.ts).
CREATE TABLE tasks (
  id                      uuid PRIMARY KEY,
  queue                   text NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
  name                    text NOT NULL,
  state                   text NOT NULL CHECK (state IN ('queued', 'active', 'retrying', 'completed', 'failed', 'cancelled')),
  payload                 jsonb NOT NULL,
  priority                int NOT NULL CHECK (priority BETWEEN -100 AND 100),
  retry                   jsonb NOT NULL,           -- the resolved policy {limit, delaySeconds, backoff, maxDelaySeconds}
  timeout_seconds         int NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 3600),
  url                     text,
  idempotency_key         text,
  idempotency_expires_at  timestamptz,
  due_at                  timestamptz NOT NULL,
  created_at              timestamptz NOT NULL DEFAULT now(),
  started_at              timestamptz,
  finished_at             timestamptz,
  attempt_count           int NOT NULL DEFAULT 0,
  budget_base             int NOT NULL DEFAULT 0,   -- attempt_count when the current attempt budget began
  lease_expires_at        timestamptz,              -- while active: when the delivery counts as lost
  engine_id               uuid,                     -- while active: the engine delivering it
  job_id                  uuid,                     -- the pg-boss job carrying the next/current dispatch
  result                  jsonb,
  last_error              text,
  last_status_code        int,
  last_error_class        text
);
CREATE INDEX tasks_queue_created ON tasks (queue, created_at DESC, id DESC);
CREATE INDEX tasks_created ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_queue_state_created ON tasks (queue, state, created_at DESC, id DESC);
CREATE UNIQUE INDEX tasks_idempotency ON tasks (queue, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_waiting_due ON tasks (queue, due_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX tasks_active_lease ON tasks (lease_expires_at) WHERE state = 'active';
CREATE INDEX tasks_active_queue ON tasks (queue) WHERE state = 'active';
CREATE INDEX tasks_failed ON tasks (queue, finished_at DESC) WHERE state = 'failed';

CREATE TABLE attempts (
  task_id           uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  number            int NOT NULL,
  started_at        timestamptz NOT NULL,
  duration_ms       int,
  outcome           text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
  status_code       int,
  error_class       text,
  error             text,
  response_snippet  text,
  handler_id        uuid,
  PRIMARY KEY (task_id, number)
);
CREATE INDEX attempts_started ON attempts (started_at);
