-- Test-mode handlers take one task (docs/delivery-contract.md, queues/handlerSql.ts).
--
-- A `test` handler (an n8n editor listening for a test event) gets at most one task, only while the
-- queue has no healthy production handler, and is deleted after that delivery or 120 s after its
-- registration (by the database clock), whichever comes first. `test_task_id` is the task it was
-- given: an engine claims the handler by setting it, so however many engines deliver, only one
-- task gets it. Production handlers leave it null.
ALTER TABLE handlers ADD COLUMN test_task_id uuid;

-- Test handlers past their 120 s, for the expiry service.
CREATE INDEX handlers_test_created ON handlers (created_at) WHERE mode = 'test';
