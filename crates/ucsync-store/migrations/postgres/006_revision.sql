-- How many times an element's objects were written: each commit of a sync
-- and each batch of notify sync adds one, so that a writer that read the
-- element before another wrote can tell, and read again.
ALTER TABLE sync_state ADD COLUMN revision bigint NOT NULL DEFAULT 0;
