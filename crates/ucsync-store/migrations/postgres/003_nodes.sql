-- The service nodes that share the database, each with a heartbeat renewed
-- with its job leases: while a node's heartbeat has not run out, another
-- service under the same node name refuses to start (it would take the
-- live node's running jobs for interrupted ones). `holder` says who it is.
CREATE TABLE nodes (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    alive_until timestamptz NOT NULL
);
