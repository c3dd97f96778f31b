-- Alarms on elements: one open alarm (cleared_at NULL) per element and
-- condition, so raising again counts on the open one and a clear ends it.
-- The element is kept by name: an alarm outlives the element it was on.
CREATE TABLE alarms (
    id         INTEGER PRIMARY KEY,
    element    TEXT NOT NULL,
    condition  TEXT NOT NULL,
    severity   TEXT NOT NULL,
    cause      TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    count      INTEGER NOT NULL,
    cleared_at TEXT,
    acked_by   TEXT,
    acked_at   TEXT
);
CREATE UNIQUE INDEX alarms_open ON alarms (element, condition) WHERE cleared_at IS NULL;
CREATE INDEX alarms_by_time ON alarms (last_seen);

-- Each attempt to deliver an alarm's raise or clear to a webhook.
CREATE TABLE webhook_deliveries (
    id        INTEGER PRIMARY KEY,
    webhook   TEXT NOT NULL,
    alarm_id  INTEGER NOT NULL,
    event     TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    at        TEXT NOT NULL,
    status    INTEGER,
    error     TEXT,
    delivered INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook, id);
