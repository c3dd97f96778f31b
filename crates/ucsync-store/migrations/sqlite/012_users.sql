-- The console's users: a name, a role (the roles of API tokens), and the
-- argon2id hash of the password (a PHC string; the API makes and checks it).
CREATE TABLE users (
    name            TEXT PRIMARY KEY,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_sign_in_at TEXT
);
