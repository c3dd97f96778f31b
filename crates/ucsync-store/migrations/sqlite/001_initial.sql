-- Elements and how to reach them. The password is encrypted with the
-- installation's secret key, which is never in the database.
CREATE TABLE elements (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    host           TEXT NOT NULL,
    alternate_host TEXT,
    port           INTEGER NOT NULL,
    login          TEXT NOT NULL,
    password_enc   TEXT NOT NULL,
    settings       TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

-- Per element: the last init, the versions it ran with, the sync point.
CREATE TABLE sync_state (
    element_id      INTEGER PRIMARY KEY REFERENCES elements(id) ON DELETE CASCADE,
    last_init_at    TEXT,
    last_init_ok    INTEGER,
    last_init_error TEXT,
    version_at_init TEXT,
    format_at_init  INTEGER,
    sync_point      TEXT,
    last_sync_at    TEXT,
    last_success_at TEXT
);

-- The synchronized objects. Fields are a JSON array of [field, value] with
-- secret values encrypted; the hash is a keyed hash of the plaintext.
CREATE TABLE objects (
    element_id  INTEGER NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    object_type TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    fields      TEXT NOT NULL,
    hash        BLOB NOT NULL,
    name        TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (element_id, object_type, object_key)
) WITHOUT ROWID;
CREATE INDEX objects_by_key ON objects (object_key);
CREATE INDEX objects_by_name ON objects (name) WHERE name IS NOT NULL;

-- What an init read and will apply, written outside the final transaction.
-- An init refused by the discrepancy check keeps its rows for review.
CREATE TABLE staged (
    job_id      INTEGER NOT NULL,
    object_type TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    op          TEXT NOT NULL,
    fields      TEXT,
    hash        BLOB,
    name        TEXT,
    PRIMARY KEY (job_id, object_type, object_key)
) WITHOUT ROWID;

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    element_id   INTEGER REFERENCES elements(id) ON DELETE SET NULL,
    element      TEXT NOT NULL,
    requested    TEXT NOT NULL,
    type         TEXT NOT NULL,
    reason       TEXT,
    trigger      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    state        TEXT NOT NULL,
    progress     TEXT NOT NULL DEFAULT '{}',
    counts       TEXT NOT NULL DEFAULT '{}',
    error        TEXT,
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT
);
CREATE INDEX jobs_by_element ON jobs (element, id);
CREATE INDEX jobs_by_state ON jobs (state, id);

CREATE TABLE job_log (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    at     TEXT NOT NULL,
    line   TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

-- The change log: what changed, in which job (or by notify sync), and, when
-- the element's history says, by which of its logins and when.
CREATE TABLE changes (
    id          INTEGER PRIMARY KEY,
    element_id  INTEGER NOT NULL REFERENCES elements(id) ON DELETE CASCADE,
    job_id      INTEGER,
    object_type TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    op          TEXT NOT NULL,
    by_login    TEXT,
    at_element  TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX changes_by_job ON changes (job_id);
CREATE INDEX changes_by_object ON changes (element_id, object_type, object_key);
