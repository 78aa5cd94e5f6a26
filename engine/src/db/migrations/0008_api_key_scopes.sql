-- API key scopes (README "Security", auth/scopes.ts): `admin` (everything), `write` (tasks, schedules,
-- batches, dead letters, handlers; queues with default settings, pause/resume), `read` (GETs and
-- previews, secrets left out). Keys stored before scopes existed could do everything: admin.
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'admin' CHECK (scope IN ('admin', 'write', 'read'));
