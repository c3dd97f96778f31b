-- Work done for the whole database now and then, such as the daily removal
-- of old jobs: when each task is next due and when it last ran. A node runs
-- a task only if its compare-and-set on `next_due` wins (see `claim_task`),
-- so of several processes on one database exactly one runs each turn.
CREATE TABLE system_tasks (
    name     TEXT PRIMARY KEY,
    next_due TEXT NOT NULL,
    last_run TEXT NOT NULL
);
