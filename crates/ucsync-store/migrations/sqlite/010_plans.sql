-- A preview of a sync (a dry run) and a refused init keep their plan: the
-- staged rows (an incremental's with the login and time its history
-- named), and in `plans` what applying them records. Applying is refused
-- when the element's objects changed since the plan read them: every write
-- to an element's objects moves its `revision` on.
ALTER TABLE jobs ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN applied_at TEXT;
ALTER TABLE jobs ADD COLUMN applied_by TEXT;
ALTER TABLE sync_state ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staged ADD COLUMN by_login TEXT;
ALTER TABLE staged ADD COLUMN at_element TEXT;
CREATE TABLE plans (
    job_id     INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    element_id INTEGER NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    version    TEXT NOT NULL,
    format     INTEGER NOT NULL,
    sync_point TEXT NOT NULL
);
CREATE INDEX plans_by_element ON plans (element_id);
