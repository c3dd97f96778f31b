-- The service: the database is the job queue, and it holds API tokens and
-- schedules.

-- Before this schema the queue lived in one process's memory: a job still
-- running or stopping now belongs to a process that is gone. Failing those
-- jobs is also what lets the index below hold (at most one per element).
INSERT INTO job_log (job_id, seq, at, line)
SELECT id,
       (SELECT coalesce(max(l.seq), 0) + 1 FROM job_log l WHERE l.job_id = jobs.id),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
       'failed: interrupted (its process ended before the database held the queue)'
FROM jobs WHERE state IN ('running', 'stopping');
DELETE FROM staged WHERE job_id IN (SELECT id FROM jobs WHERE state IN ('running', 'stopping'));
UPDATE jobs
SET state = 'failed', error = 'interrupted', finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE state IN ('running', 'stopping');

-- Which node runs a job, and until when its lease holds: a job whose lease
-- ended belongs to a node that died. Times are RFC 3339 UTC with
-- milliseconds, all of one length, so that text order is time order.
ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE jobs ADD COLUMN lease_until TEXT;
-- One sync at a time per element, whatever the number of nodes: a second
-- claim on the element fails here even if the code that checks is wrong.
CREATE UNIQUE INDEX jobs_one_running ON jobs (element) WHERE state IN ('running', 'stopping');
-- A request looks for a queued job of its element to join, and should not
-- read the element's history to find it.
CREATE INDEX jobs_queued ON jobs (element, id) WHERE state = 'queued';
-- Leases are renewed and checked by node.
CREATE INDEX jobs_by_node ON jobs (node) WHERE state IN ('running', 'stopping');

-- Search matches a prefix of the key or the name, whatever the case, as a
-- range on these (see `search` in src/sqlite.rs); the plain ones served nothing.
DROP INDEX objects_by_key;
DROP INDEX objects_by_name;
CREATE INDEX objects_search_key ON objects (lower(object_key));
-- The name itself is in the index, and the index is not partial, so that
-- SQLite answers from the index alone: with lower(name) only it reads each
-- matching row too.
CREATE INDEX objects_search_name ON objects (lower(name), name);

-- API tokens: only a hash of the secret is kept, and looked up by it.
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);

-- Schedules: the specification is ucsync-schedule's JSON; the store keeps
-- it and the scheduler's state. An element has at most one default schedule.
CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    default_for TEXT UNIQUE,
    spec        TEXT NOT NULL,
    last_fired  TEXT,
    next_due    TEXT,
    created_at  TEXT NOT NULL
);
