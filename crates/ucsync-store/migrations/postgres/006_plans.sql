-- A preview of a sync (a dry run) and a refused init keep their plan: the
-- staged rows (an incremental's with the login and time its history
-- named), and in `plans` what applying them records. Applying is refused
-- when the element's objects changed since the plan read them: every write
-- to an element's objects moves its `revision` on, holding its sync_state row.
ALTER TABLE jobs ADD COLUMN dry_run boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN applied_at timestamptz;
ALTER TABLE jobs ADD COLUMN applied_by text;
ALTER TABLE sync_state ADD COLUMN revision bigint NOT NULL DEFAULT 0;
ALTER TABLE staged ADD COLUMN by_login text;
ALTER TABLE staged ADD COLUMN at_element text;
CREATE TABLE plans (
    job_id     bigint PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    element_id bigint NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    kind       text NOT NULL,
    revision   bigint NOT NULL,
    version    text NOT NULL,
    format     bigint NOT NULL,
    sync_point text NOT NULL
);
CREATE INDEX plans_by_element ON plans (element_id);
