-- The console's users: a name, a role (the roles of API tokens), and the
-- argon2id hash of the password (a PHC string; the API makes and checks it).
CREATE TABLE users (
    name            text PRIMARY KEY,
    role            text NOT NULL,
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL,
    last_sign_in_at timestamptz
);
