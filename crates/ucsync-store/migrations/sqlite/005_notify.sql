-- CM notify sync. An applied event is kept as the key of the history row it
-- stands for, so that the next incremental skips exactly that row; keys
-- older than a sync point are dropped once that sync has committed.
CREATE TABLE notify_applied (
    id         INTEGER PRIMARY KEY,
    element_id INTEGER NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    row_key    TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE INDEX notify_applied_by_element ON notify_applied (element_id, applied_at);
-- When the element's last notify event was received.
ALTER TABLE sync_state ADD COLUMN last_notify_at TEXT;
