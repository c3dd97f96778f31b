-- The console's sessions: the cookie's secret is kept only as a hash, with
-- the form token (CSRF) of the session and when it was last used; a session
-- ends with its user.
CREATE TABLE sessions (
    secret_hash  bytea PRIMARY KEY,
    user_name    text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf         text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name);
