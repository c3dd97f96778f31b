-- The console's sessions: the cookie's secret is kept only as a hash, with
-- the form token (CSRF) of the session and when it was last used; a session
-- ends with its user.
CREATE TABLE sessions (
    secret_hash  BLOB PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name);
