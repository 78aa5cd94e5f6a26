-- Batches: a large array of items split into chunks, each chunk delivered as one task.
-- Chunks are written when items arrive and become tasks only when released (at most `concurrency`
-- of a batch in flight), so the counters below are the batch's whole truth and reading them is one
-- row. They are kept by increments inside the transactions that move chunks (see engine/src/batches).

CREATE TABLE batches (
  id                            uuid PRIMARY KEY,
  queue                         text NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
  name                          text NOT NULL,                  -- task name of every chunk
  state                         text NOT NULL CHECK (state IN ('open', 'running', 'completed', 'completed_with_failures', 'failed', 'cancelled')),
  -- the chunk tasks' template, resolved when the batch was created
  payload                       jsonb NOT NULL DEFAULT '{}',    -- merged into every chunk's payload next to `items`
  url                           text,
  priority                      int NOT NULL,
  retry                         jsonb NOT NULL,
  timeout_seconds               int NOT NULL,
  callback_url                  text,
  chunk_size                    int NOT NULL CHECK (chunk_size BETWEEN 1 AND 10000),
  concurrency                   int NOT NULL CHECK (concurrency >= 1),
  delay_between_chunks_seconds  float8 NOT NULL DEFAULT 0 CHECK (delay_between_chunks_seconds >= 0),
  -- counters
  total_items                   bigint NOT NULL DEFAULT 0,
  total_chunks                  int NOT NULL DEFAULT 0,
  items_processed               bigint NOT NULL DEFAULT 0,      -- items of completed chunks
  items_failed                  bigint NOT NULL DEFAULT 0,      -- items of failed chunks
  chunks_pending                int NOT NULL DEFAULT 0,         -- not yet released
  chunks_active                 int NOT NULL DEFAULT 0,         -- released, task not final
  chunks_completed              int NOT NULL DEFAULT 0,
  chunks_failed                 int NOT NULL DEFAULT 0,
  chunks_cancelled              int NOT NULL DEFAULT 0,
  -- earliest due time of the next released chunk (spaces starts by delay_between_chunks_seconds)
  next_release_at               timestamptz,
  runs                          int NOT NULL DEFAULT 0,         -- finished runs (the first, then each retry-failed)
  created_at                    timestamptz NOT NULL DEFAULT now(),
  started_at                    timestamptz,
  finished_at                   timestamptz
);
CREATE INDEX batches_created ON batches (created_at DESC, id DESC);
CREATE INDEX batches_queue_created ON batches (queue, created_at DESC, id DESC);

CREATE TABLE batch_chunks (
  batch_id     uuid NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  chunk_index  int NOT NULL,
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'completed', 'failed', 'cancelled')),
  items        jsonb,                 -- the chunk's items; dropped once the chunk completed
  item_count   int NOT NULL,
  task_id      uuid,                  -- set on first release; a retried chunk keeps its task
  PRIMARY KEY (batch_id, chunk_index)
);
CREATE UNIQUE INDEX batch_chunks_task ON batch_chunks (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX batch_chunks_pending ON batch_chunks (batch_id, chunk_index) WHERE state = 'pending';
CREATE INDEX batch_chunks_active ON batch_chunks (batch_id) WHERE state = 'active';
