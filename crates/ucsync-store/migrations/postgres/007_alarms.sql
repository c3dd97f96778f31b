-- Alarms on elements: one open alarm (cleared_at NULL) per element and
-- condition, so raising again counts on the open one and a clear ends it.
-- The element is kept by name: an alarm outlives the element it was on.
CREATE TABLE alarms (
    id         bigserial PRIMARY KEY,
    element    text NOT NULL,
    condition  text NOT NULL,
    severity   text NOT NULL,
    cause      text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    count      bigint NOT NULL,
    cleared_at timestamptz,
    acked_by   text,
    acked_at   timestamptz
);
CREATE UNIQUE INDEX alarms_open ON alarms (element, condition) WHERE cleared_at IS NULL;
CREATE INDEX alarms_by_time ON alarms (last_seen);

-- Each attempt to deliver an alarm's raise or clear to a webhook.
CREATE TABLE webhook_deliveries (
    id        bigserial PRIMARY KEY,
    webhook   text NOT NULL,
    alarm_id  bigint NOT NULL,
    event     text NOT NULL,
    attempt   bigint NOT NULL,
    at        timestamptz NOT NULL,
    status    bigint,
    error     text,
    delivered boolean NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook, id);
