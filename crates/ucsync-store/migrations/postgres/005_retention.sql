-- Work done for the whole cluster now and then, such as the daily removal
-- of old jobs: when each task is next due and when it last ran. A node runs
-- a task only if its compare-and-set on `next_due` wins (see `claim_task`:
-- an upsert whose update holds the row, so of several nodes exactly one
-- runs each turn).
CREATE TABLE system_tasks (
    name     text PRIMARY KEY,
    next_due timestamptz NOT NULL,
    last_run timestamptz NOT NULL
);
