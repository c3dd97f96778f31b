-- A console import's previewed file, kept in the database until confirmed,
-- so that whichever node receives the confirmation imports it: its rows
-- (JSON, encrypted with the installation's key: they hold passwords), for
-- the session that previewed it, and ended with that session.
CREATE TABLE import_previews (
    id           TEXT PRIMARY KEY,
    session_hash BLOB NOT NULL REFERENCES sessions (secret_hash) ON DELETE CASCADE,
    file         TEXT NOT NULL,
    rows_enc     TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX import_previews_by_session ON import_previews (session_hash, created_at);
