-- A console import's previewed file, kept in the database until confirmed,
-- so that whichever node receives the confirmation imports it: its rows
-- (JSON, encrypted with the installation's key: they hold passwords), for
-- the session that previewed it, and ended with that session.
CREATE TABLE import_previews (
    id           text PRIMARY KEY,
    session_hash bytea NOT NULL REFERENCES sessions (secret_hash) ON DELETE CASCADE,
    file         text NOT NULL,
    rows_enc     text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX import_previews_by_session ON import_previews (session_hash, created_at);
