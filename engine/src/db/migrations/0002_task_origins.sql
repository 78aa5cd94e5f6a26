-- Where a task comes from and what it delivers: a schedule occurrence, a batch chunk, or a batch
-- event (a batch's completion, sent to handlers registered for `batch` events).

ALTER TABLE tasks ADD COLUMN event text NOT NULL DEFAULT 'task' CHECK (event IN ('task', 'batch'));
ALTER TABLE tasks ADD COLUMN schedule jsonb;       -- { id, name, occurrence } as delivered
ALTER TABLE tasks ADD COLUMN schedule_id uuid;
ALTER TABLE tasks ADD COLUMN batch jsonb;          -- { id, chunkIndex, totalChunks } as delivered
ALTER TABLE tasks ADD COLUMN batch_id uuid;

CREATE INDEX tasks_schedule ON tasks (schedule_id, created_at DESC) WHERE schedule_id IS NOT NULL;
CREATE INDEX tasks_batch ON tasks (batch_id) WHERE batch_id IS NOT NULL;
