-- Flow control (docs/flow-control.md): per-key concurrency and rate limits, and
-- throttling asked for by a handler's 429/503 + Retry-After.
--
-- A task may carry a concurrency key. A queue may limit how many tasks of one key are active at
-- once (`key_concurrency`) and how many start per window (`key_rate_limit_*`). A due task whose
-- key is at its limit is *parked*: it keeps its state (`queued`) but holds no dispatch job, so the
-- claim never meets it again until its key wakes (a task of the key finished, its rate window or
-- throttle ended). Parking is what keeps 1,000 waiting tasks of one key from delaying another key.
ALTER TABLE queues
  ADD COLUMN key_concurrency int CHECK (key_concurrency >= 1),
  ADD COLUMN key_rate_limit_max int CHECK (key_rate_limit_max >= 1),
  ADD COLUMN key_rate_limit_period_seconds int CHECK (key_rate_limit_period_seconds >= 1),
  -- A handler throttled a task without a key: the whole queue waits until then.
  ADD COLUMN throttled_until timestamptz;

ALTER TABLE tasks
  ADD COLUMN concurrency_key text CHECK (char_length(concurrency_key) BETWEEN 1 AND 200),
  ADD COLUMN parked boolean NOT NULL DEFAULT false;

-- One row per key that has something to remember: a rate window, a throttle, or parked tasks
-- waiting to be woken. Written only under the queue's dispatch lock.
CREATE TABLE task_keys (
  queue             text NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
  key               text NOT NULL,
  -- When the claim should look at this key's parked tasks again (null: when a task of it finishes).
  wake_at           timestamptz,
  throttled_until   timestamptz,
  rate_window_start timestamptz,
  rate_window_count int NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, key)
);
CREATE INDEX task_keys_wake ON task_keys (queue, wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX task_keys_throttled ON task_keys (queue, throttled_until) WHERE throttled_until IS NOT NULL;

-- A key's active tasks, counted under the dispatch lock at every claim of a keyed task.
CREATE INDEX tasks_key_active ON tasks (queue, concurrency_key) WHERE state = 'active' AND concurrency_key IS NOT NULL;
-- A key's tasks already in line with a job (due, not parked): what a woken key's room is reduced by.
CREATE INDEX tasks_key_waiting ON tasks (queue, concurrency_key) WHERE state = 'queued' AND NOT parked AND concurrency_key IS NOT NULL;
-- A key's line of parked tasks, in the order they are woken.
CREATE INDEX tasks_parked ON tasks (queue, concurrency_key, priority DESC, due_at, created_at) WHERE parked;
