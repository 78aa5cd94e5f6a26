-- Debounce (docs/flow-control.md#debounce): enqueues of one queue with the same
-- debounce key fold into one task (a *group*) while that task has not started.
--
-- The group lives on the task that carries it: its key, its mode (`replace` or `collect`) and its
-- longest wait, counted from the group's first enqueue, which is the task's `created_at`. A task
-- holds its group *open* (`debounce_open`) from the enqueue that opens it until an enqueue of the
-- same key finds it started (or finished, or cancelled), or full (`collect` at the payload limit),
-- and opens the next group; only the debounce code (tasks/debounce.ts) writes the flag, under the
-- group's advisory lock. The key stays on the task afterwards, so a task shows the group it was.
ALTER TABLE tasks
  ADD COLUMN debounce_key text CHECK (char_length(debounce_key) BETWEEN 1 AND 200),
  ADD COLUMN debounce_mode text CHECK (debounce_mode IN ('replace', 'collect')),
  ADD COLUMN debounce_max_wait_seconds float8 CHECK (debounce_max_wait_seconds > 0 AND debounce_max_wait_seconds <= 86400),
  ADD COLUMN debounce_open boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT tasks_debounce_group CHECK (debounce_key IS NOT NULL OR (debounce_mode IS NULL AND NOT debounce_open));

-- At most one open group per queue and key: the backstop to the advisory lock, and how an enqueue
-- finds the group it may join.
CREATE UNIQUE INDEX tasks_debounce_open ON tasks (queue, debounce_key) WHERE debounce_open;
