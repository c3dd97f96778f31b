-- The init pool's waiting state: a claimed init waits, in the state
-- `waiting`, for a place among the running inits. A waiting job already
-- holds its element (one job per element), its node and lease.
DROP INDEX jobs_one_running;
CREATE UNIQUE INDEX jobs_one_running ON jobs (element) WHERE state IN ('waiting', 'running', 'stopping');
DROP INDEX jobs_by_node;
CREATE INDEX jobs_by_node ON jobs (node) WHERE state IN ('waiting', 'running', 'stopping');

-- Which node does what: the node says what it is when it starts (its
-- version and addresses), and when its heartbeat last beat.
ALTER TABLE nodes ADD COLUMN version TEXT;
ALTER TABLE nodes ADD COLUMN started_at TEXT;
ALTER TABLE nodes ADD COLUMN heartbeat_at TEXT;
ALTER TABLE nodes ADD COLUMN http TEXT;
ALTER TABLE nodes ADD COLUMN syslog TEXT;
