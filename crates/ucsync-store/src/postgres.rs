//! The PostgreSQL backend: one database shared by several service nodes.
//!
//! Migrations run at open under an advisory lock, so nodes starting together
//! migrate once. The job queue lives in `jobs`: requests serialize on their
//! element's row, claims skip rows another node is claiming, and a partial
//! unique index keeps one running job per element whatever the nodes do.
//! Times the store writes come from the database's clock, the one clock all
//! nodes share, and read back in the format the SQLite backend writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::TryStreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, Json, ToSql, Type};
use tokio_postgres::{NoTls, Row};
use ucsync_core::{
    ContentHash, ElementName, Fields, HashIndex, HashIndexBuilder, JobState, ObjectId, PlanOp,
    Role, SecretKey, SyncType, key_digest,
};

use crate::model::*;
use crate::{ObjectQuery, Result, Store, StoreError};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/001_initial.sql"),
    include_str!("../migrations/postgres/002_notify.sql"),
    include_str!("../migrations/postgres/003_nodes.sql"),
    include_str!("../migrations/postgres/004_init_pool.sql"),
];

/// Connections per store: the parallel digest ranges of an init's load plus
/// the service's other work.
const POOL_SIZE: usize = 16;

/// How many digest ranges an init's load reads in parallel at most.
const LOAD_PARTS: usize = 4;

/// The advisory lock class of migrations; the object id is the schema's hash,
/// so stores on different schemas of one database do not wait for each other.
const MIGRATION_LOCK: i32 = 0x7563_7379; // "ucsy"

/// Digests per query when an init reads back the keys of its deletions.
const DIGEST_CHUNK: usize = 10_000;

/// How often a claim tries the next candidate after losing a race for one.
const CLAIM_ATTEMPTS: usize = 8;
/// Tries at a place in the init pool before answering "none free now" (the
/// caller looks again later).
const PLACE_ATTEMPTS: usize = 8;

/// ucsync's database on PostgreSQL, with a pool of connections.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    schema: Option<String>,
    secret: SecretKey,
}

impl std::fmt::Debug for PgStore {
    // The URL may hold a password: only the schema is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(detail) => format!("{} ({detail})", d.message()),
            None => d.message().to_string(),
        },
        // The cause is where the reason is ("connection refused", ...).
        None => match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    })
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db(e),
        e => StoreError::Database(format!("connection pool: {e}")),
    }
}

fn is_unique_violation(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error().and_then(|d| d.constraint()) == Some(constraint)
}

/// A time as the SQLite backend writes it: RFC 3339, UTC, milliseconds, `Z`.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(|e| {
        let column = r.columns().get(i).map_or("?", |c| c.name());
        StoreError::Database(format!("column {column}: {e}"))
    })
}

fn time(r: &Row, i: usize) -> Result<String> {
    get::<DateTime<Utc>>(r, i).map(ts)
}

fn time_opt(r: &Row, i: usize) -> Result<Option<String>> {
    Ok(get::<Option<DateTime<Utc>>>(r, i)?.map(ts))
}

fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T> {
    s.parse().map_err(StoreError::Database)
}

fn bytes16(b: &[u8], what: &str) -> Result<[u8; 16]> {
    b.try_into()
        .map_err(|_| StoreError::Database(format!("stored {what} is not 16 bytes")))
}

fn id_digest(id: &ObjectId) -> [u8; 16] {
    key_digest(&id.object_type, &id.key).to_be_bytes()
}

fn fields_json(f: &Fields) -> String {
    serde_json::to_string(f).expect("fields serialize")
}

fn fields_from(s: &str) -> Result<Fields> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("stored fields: {e}")))
}

fn op_name(op: PlanOp) -> &'static str {
    match op {
        PlanOp::Add => "add",
        PlanOp::Change => "change",
        PlanOp::Delete => "delete",
    }
}

/// A page size as SQL: no limit for 0.
fn limit(n: u64) -> Option<i64> {
    (n != 0).then(|| i64::try_from(n).unwrap_or(i64::MAX))
}

fn offset(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The inclusive bounds of part `i` of `n` of the digest space. Inclusive,
/// so that every part is one bounded range scan of the same statement.
fn digest_range(i: usize, n: usize) -> ([u8; 16], [u8; 16]) {
    let step = u128::MAX / n as u128 + 1;
    let lo = step * i as u128;
    let hi = if i + 1 < n {
        step * (i as u128 + 1) - 1
    } else {
        u128::MAX
    };
    (lo.to_be_bytes(), hi.to_be_bytes())
}

/// A `LIKE` pattern for what starts with `text`.
fn prefix_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn check_schema_name(schema: &str) -> Result<()> {
    let ok = (1..=63).contains(&schema.len())
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(StoreError::Database(format!(
            "invalid schema name {schema:?}: use 1 to 63 lower-case letters, digits and '_', not starting with a digit"
        )))
    }
}

const ELEMENT_COLUMNS: &str = "e.id, e.name, e.kind, e.host, e.alternate_host, e.port, e.login, e.settings, e.created_at, \
     s.last_init_at, s.last_init_ok, s.last_init_error, s.version_at_init, s.format_at_init, s.sync_point, s.last_sync_at, s.last_success_at, s.last_notify_at";

fn element_from(r: &Row) -> Result<Element> {
    let name: &str = get(r, 1)?;
    let port: i32 = get(r, 5)?;
    let format: Option<i64> = get(r, 13)?;
    Ok(Element {
        id: get(r, 0)?,
        name: ElementName::parse(name).map_err(|e| StoreError::Database(e.to_string()))?,
        kind: parse(get(r, 2)?)?,
        host: get(r, 3)?,
        alternate_host: get(r, 4)?,
        port: u16::try_from(port)
            .map_err(|_| StoreError::Database(format!("stored port {port} is out of range")))?,
        login: get(r, 6)?,
        settings: get::<Json<ElementSettings>>(r, 7)?.0,
        created_at: time(r, 8)?,
        sync: SyncState {
            last_init_at: time_opt(r, 9)?,
            last_init_ok: get(r, 10)?,
            last_init_error: get(r, 11)?,
            version_at_init: get(r, 12)?,
            format_at_init: format
                .map(|f| {
                    u32::try_from(f).map_err(|_| {
                        StoreError::Database(format!("stored format {f} is out of range"))
                    })
                })
                .transpose()?,
            sync_point: get(r, 14)?,
            last_sync_at: time_opt(r, 15)?,
            last_success_at: time_opt(r, 16)?,
            last_notify_at: time_opt(r, 17)?,
        },
    })
}

async fn load_element(c: &impl GenericClient, name: &str) -> Result<Option<Element>> {
    let st = c
        .prepare_cached(&format!(
            "SELECT {ELEMENT_COLUMNS} FROM elements e LEFT JOIN sync_state s ON s.element_id = e.id WHERE e.name = $1"
        ))
        .await
        .map_err(db)?;
    c.query_opt(&st, &[&name])
        .await
        .map_err(db)?
        .map(|r| element_from(&r))
        .transpose()
}

const JOB_COLUMNS: &str = "id, element, requested, type, reason, trigger, requested_by, state, progress, counts, error, created_at, started_at, finished_at, node";

fn job_from(r: &Row) -> Result<Job> {
    Ok(Job {
        id: get(r, 0)?,
        element: get(r, 1)?,
        requested: parse(get(r, 2)?)?,
        sync_type: parse(get(r, 3)?)?,
        reason: get(r, 4)?,
        trigger: parse(get(r, 5)?)?,
        requested_by: get(r, 6)?,
        state: parse(get(r, 7)?)?,
        progress: get::<Json<Progress>>(r, 8)?.0,
        counts: get::<Json<JobCounts>>(r, 9)?.0,
        error: get(r, 10)?,
        created_at: time(r, 11)?,
        started_at: time_opt(r, 12)?,
        finished_at: time_opt(r, 13)?,
        node: get(r, 14)?,
    })
}

async fn load_job(c: &impl GenericClient, id: JobId) -> Result<Option<Job>> {
    let st = c
        .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
        .await
        .map_err(db)?;
    c.query_opt(&st, &[&id])
        .await
        .map_err(db)?
        .map(|r| job_from(&r))
        .transpose()
}

const SCHEDULE_COLUMNS: &str = "id, name, default_for, spec, last_fired, next_due, created_at";

fn schedule_from(r: &Row) -> Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        id: get(r, 0)?,
        name: get(r, 1)?,
        default_for: get(r, 2)?,
        spec: get::<Json<serde_json::Value>>(r, 3)?.0,
        last_fired: get(r, 4)?,
        next_due: get(r, 5)?,
        created_at: time(r, 6)?,
    })
}

const TOKEN_COLUMNS: &str = "id, name, role, created_at, last_used_at";

fn token_from(r: &Row) -> Result<Token> {
    Ok(Token {
        id: get(r, 0)?,
        name: get(r, 1)?,
        role: parse::<Role>(get(r, 2)?)?,
        created_at: time(r, 3)?,
        last_used_at: time_opt(r, 4)?,
    })
}

/// The sync types a request of `requested` joins: those at least as strong.
fn joinable(requested: SyncType) -> Vec<&'static str> {
    SyncType::ALL
        .iter()
        .filter(|t| t.strength() >= requested.strength())
        .map(|t| t.as_str())
        .collect()
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or a libpq
    /// connection string) and brings its schema up to date.
    pub async fn connect(url: &str, secret: SecretKey) -> Result<PgStore> {
        PgStore::open(url, None, secret).await
    }

    /// Like [`PgStore::connect`], with every table in `schema` (created if
    /// needed): several installations, or tests, share one database.
    pub async fn connect_with_schema(
        url: &str,
        schema: &str,
        secret: SecretKey,
    ) -> Result<PgStore> {
        check_schema_name(schema)?;
        PgStore::open(url, Some(schema), secret).await
    }

    async fn open(url: &str, schema: Option<&str>, secret: SecretKey) -> Result<PgStore> {
        let url = crate::pg_tls::parse(url)?;
        let tls = crate::pg_tls::connector(&url.mode)?;
        let mut config: tokio_postgres::Config = url
            .url
            .parse()
            .map_err(|e| StoreError::Database(format!("invalid postgresql url: {e}")))?;
        if let Some(schema) = schema {
            // Set at connection start-up, so no pooled connection can ever
            // run a statement on another schema.
            let options = match config.get_options() {
                Some(o) if !o.is_empty() => format!("{o} -c search_path={schema}"),
                _ => format!("-c search_path={schema}"),
            };
            config.options(options);
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls {
            Some(tls) => Manager::from_config(config, tls, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Database(format!("connection pool: {e}")))?;
        let store = PgStore {
            pool,
            schema: schema.map(str::to_string),
            secret,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Applies changes (and records notify-applied rows), moving the sync
    /// point when one is given, in one transaction.
    async fn apply(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
        row_keys: &[String],
    ) -> Result<JobCounts> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // What is read as stored below stays so until this commits.
        lock_sync_state(&tx, element).await?;

        // What is stored of the objects concerned, in one query.
        let mut stored: HashMap<(&str, &str), Option<[u8; 16]>> = HashMap::new();
        for ch in &changes {
            stored.insert((&ch.id.object_type, &ch.id.key), None);
        }
        if !stored.is_empty() {
            let types: Vec<&str> = stored.keys().map(|k| k.0).collect();
            let keys: Vec<&str> = stored.keys().map(|k| k.1).collect();
            let rows = tx
                .query(
                    "SELECT d.n, o.hash FROM objects o \
                     JOIN unnest($2::text[], $3::text[]) WITH ORDINALITY AS d(t, k, n) \
                       ON o.object_type = d.t AND o.object_key = d.k \
                     WHERE o.element_id = $1",
                    &[&element, &types, &keys],
                )
                .await
                .map_err(db)?;
            for r in &rows {
                let n = usize::try_from(get::<i64>(r, 0)? - 1)
                    .map_err(|_| StoreError::Database("unnest ordinality out of range".into()))?;
                stored.insert((types[n], keys[n]), Some(bytes16(get(r, 1)?, "hash")?));
            }
        }

        // The changes one after another against what is stored, as the
        // SQLite backend applies them; then each object's last state at once.
        let mut counts = JobCounts::default();
        let mut last: HashMap<(&str, &str), usize> = HashMap::new();
        let mut log: Vec<(usize, &'static str)> = Vec::new();
        for (i, ch) in changes.iter().enumerate() {
            let id = (ch.id.object_type.as_str(), ch.id.key.as_str());
            let before = stored[&id];
            let after = ch.upsert.as_ref().map(|(_, hash, _)| hash);
            let Some(op) = counts.count_change(before.as_ref().map(|b| &b[..]), after) else {
                continue;
            };
            stored.insert(id, after.map(|h| h.0));
            last.insert(id, i);
            log.push((i, op));
        }
        let mut up: Vec<&Change> = Vec::new();
        let mut del: Vec<&Change> = Vec::new();
        let mut finals: Vec<usize> = last.into_values().collect();
        finals.sort_unstable();
        for i in finals {
            let ch = &changes[i];
            if ch.upsert.is_some() {
                up.push(ch);
            } else {
                del.push(ch);
            }
        }
        if !up.is_empty() {
            let types: Vec<&str> = up.iter().map(|c| c.id.object_type.as_str()).collect();
            let keys: Vec<&str> = up.iter().map(|c| c.id.key.as_str()).collect();
            let digests: Vec<Vec<u8>> = up.iter().map(|c| id_digest(&c.id).to_vec()).collect();
            let mut fields = Vec::with_capacity(up.len());
            let mut hashes = Vec::with_capacity(up.len());
            let mut names = Vec::with_capacity(up.len());
            for (f, h, n) in up.iter().filter_map(|c| c.upsert.as_ref()) {
                fields.push(fields_json(f));
                hashes.push(&h.0[..]);
                names.push(n.as_deref());
            }
            let st = tx
                .prepare_cached(
                    "INSERT INTO objects (element_id, object_type, object_key, digest, fields, hash, name, updated_at) \
                     SELECT $1, * , now() FROM unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::bytea[], $7::text[]) \
                     ON CONFLICT (element_id, object_type, object_key) DO UPDATE SET digest = excluded.digest, \
                       fields = excluded.fields, hash = excluded.hash, name = excluded.name, updated_at = excluded.updated_at",
                )
                .await
                .map_err(db)?;
            tx.execute(
                &st,
                &[&element, &types, &keys, &digests, &fields, &hashes, &names],
            )
            .await
            .map_err(db)?;
        }
        if !del.is_empty() {
            let types: Vec<&str> = del.iter().map(|c| c.id.object_type.as_str()).collect();
            let keys: Vec<&str> = del.iter().map(|c| c.id.key.as_str()).collect();
            tx.execute(
                "DELETE FROM objects o USING unnest($2::text[], $3::text[]) AS d(t, k) \
                 WHERE o.element_id = $1 AND o.object_type = d.t AND o.object_key = d.k",
                &[&element, &types, &keys],
            )
            .await
            .map_err(db)?;
        }
        if !log.is_empty() {
            let types: Vec<&str> = log
                .iter()
                .map(|(i, _)| changes[*i].id.object_type.as_str())
                .collect();
            let keys: Vec<&str> = log
                .iter()
                .map(|(i, _)| changes[*i].id.key.as_str())
                .collect();
            let ops: Vec<&str> = log.iter().map(|(_, op)| *op).collect();
            let logins: Vec<Option<&str>> = log
                .iter()
                .map(|(i, _)| changes[*i].by_login.as_deref())
                .collect();
            let at_element: Vec<Option<&str>> = log
                .iter()
                .map(|(i, _)| changes[*i].at_element.as_deref())
                .collect();
            let st = tx
                .prepare_cached(
                    "INSERT INTO changes (element_id, job_id, object_type, object_key, op, by_login, at_element, at) \
                     SELECT $1, $2, t, k, o, l, a, now() \
                     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(t, k, o, l, a, n) \
                     ORDER BY n",
                )
                .await
                .map_err(db)?;
            tx.execute(
                &st,
                &[&element, &job, &types, &keys, &ops, &logins, &at_element],
            )
            .await
            .map_err(db)?;
        }
        if !row_keys.is_empty() {
            tx.execute(
                "INSERT INTO notify_applied (element_id, row_key, applied_at) \
                 SELECT $1, k, now() FROM unnest($2::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n",
                &[&element, &row_keys],
            )
            .await
            .map_err(db)?;
        }
        if let Some(p) = sync_point {
            tx.execute(
                "UPDATE sync_state SET sync_point = $2, last_sync_at = now(), last_success_at = now() WHERE element_id = $1",
                &[&element, &p],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(counts)
    }

    async fn migrate(&self) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2::text, current_schema(), '')))",
            &[&MIGRATION_LOCK, &self.schema],
        )
        .await
        .map_err(db)?;
        if let Some(schema) = &self.schema {
            // Looked up first: creating needs a privilege on the database
            // that a schema made for ucsync beforehand spares its user.
            let exists = tx
                .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[schema])
                .await
                .map_err(db)?
                .is_some();
            if !exists {
                // The connections' search_path named it before it existed:
                // set again, so that what follows lands in it. The name was
                // checked; quoting is only for form.
                tx.batch_execute(&format!(
                    "CREATE SCHEMA \"{schema}\"; SET LOCAL search_path = \"{schema}\""
                ))
                .await
                .map_err(db)?;
            }
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS ucsync_schema_version (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(db)?;
        let version: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM ucsync_schema_version",
                &[],
            )
            .await
            .map_err(db)?
            .get(0);
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(crate::newer_schema(version, MIGRATIONS.len()));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.batch_execute(sql).await.map_err(db)?;
            let v = i32::try_from(i + 1).expect("few migrations");
            tx.execute(
                "INSERT INTO ucsync_schema_version (version) VALUES ($1)",
                &[&v],
            )
            .await
            .map_err(db)?;
            tracing::info!(migration = i + 1, "database schema migrated");
        }
        tx.commit().await.map_err(db)
    }

    /// One look at the init pool (see [`Store::take_init_place`]).
    async fn try_take_place(
        c: &mut deadpool_postgres::Client,
        id: JobId,
        pool: u32,
    ) -> Result<bool, tokio_postgres::Error> {
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::Serializable)
            .start()
            .await?;
        // Inits holding a place: reading, or stopping after they read (a job
        // stopped while it waited never had `started_at`).
        let taken: i64 = tx
            .query_one(
                "SELECT count(*) FROM jobs WHERE state IN ('running', 'stopping') \
                 AND started_at IS NOT NULL AND type <> 'incremental' AND id <> $1",
                &[&id],
            )
            .await?
            .get(0);
        let free = taken < i64::from(pool);
        let changed = if free {
            tx.execute(
                "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, now()) \
                 WHERE id = $1 AND state IN ('waiting', 'running')",
                &[&id],
            )
            .await?
        } else {
            tx.execute(
                "UPDATE jobs SET state = 'waiting', started_at = NULL \
                 WHERE id = $1 AND state IN ('waiting', 'running')",
                &[&id],
            )
            .await?
        };
        tx.commit().await?;
        Ok(free && changed == 1)
    }

    /// One try at claiming: the oldest claimable queued job not in `skip`.
    /// `Err((id, e))` with a unique violation means another node started a
    /// job of that job's element meanwhile.
    async fn try_claim(
        c: &mut deadpool_postgres::Client,
        node: &str,
        lease_until: DateTime<Utc>,
        skip: &[i64],
    ) -> Result<Option<Row>, (Option<i64>, tokio_postgres::Error)> {
        let tx = c.transaction().await.map_err(|e| (None, e))?;
        // Skip locked: a locked row is a job another node is claiming right
        // now. A later queued job of the same element stays out, because the
        // one being claimed still looks queued and older.
        let st = tx
            .prepare_cached(
                "SELECT j.id FROM jobs j \
                 WHERE j.state = 'queued' AND j.id <> ALL($1) \
                   AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.element = j.element AND r.state IN ('waiting', 'running', 'stopping')) \
                   AND NOT EXISTS (SELECT 1 FROM jobs q WHERE q.element = j.element AND q.state = 'queued' AND q.id < j.id) \
                 ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
            )
            .await
            .map_err(|e| (None, e))?;
        let Some(row) = tx.query_opt(&st, &[&skip]).await.map_err(|e| (None, e))? else {
            return Ok(None);
        };
        let id: i64 = row.get(0);
        let st = tx
            .prepare_cached(&format!(
                "UPDATE jobs SET state = CASE type WHEN 'incremental' THEN 'running' ELSE 'waiting' END, node = $2, \
                   lease_until = $3::timestamptz + (clock_timestamp() - transaction_timestamp()), \
                   started_at = CASE type WHEN 'incremental' THEN now() END \
                 WHERE id = $1 RETURNING {JOB_COLUMNS}"
            ))
            .await
            .map_err(|e| (Some(id), e))?;
        let row = tx
            .query_one(&st, &[&id, &node, &lease_until])
            .await
            .map_err(|e| (Some(id), e))?;
        tx.commit().await.map_err(|e| (Some(id), e))?;
        Ok(Some(row))
    }
}

/// A lease's end (`$2`) moved on by the time this transaction has waited
/// (for locks) so far.
const LEASE_FROM_NOW: &str = "$2::timestamptz + (clock_timestamp() - transaction_timestamp())";

/// Takes the element's turn at writing its objects: commits, change
/// batches and its removal hold its sync_state row.
async fn lock_sync_state(
    tx: &deadpool_postgres::Transaction<'_>,
    element: ElementId,
) -> Result<()> {
    let st = tx
        .prepare_cached("SELECT 1 FROM sync_state WHERE element_id = $1 FOR UPDATE")
        .await
        .map_err(db)?;
    match tx.query_opt(&st, &[&element]).await.map_err(db)? {
        Some(_) => Ok(()),
        None => Err(StoreError::Database(format!(
            "no element with id {element}"
        ))),
    }
}

/// Matches per prefix index up to which search sorts every match itself.
const SEARCH_SPARSE: i64 = 5_000;

const HIT_COLUMNS: &str =
    "e.name, o.object_type, o.object_key, o.fields, o.hash, o.updated_at, o.name";

fn hit_from(r: &Row) -> Result<SearchHit> {
    Ok(SearchHit {
        element: get(r, 0)?,
        object: StoredObject {
            id: ObjectId::new(get::<&str>(r, 1)?, get::<&str>(r, 2)?),
            fields: fields_from(get(r, 3)?)?,
            hash: ContentHash(bytes16(get(r, 4)?, "hash")?),
            updated_at: time(r, 5)?,
        },
        name: get(r, 6)?,
    })
}

/// Search when a prefix matches few objects: each prefix index yields its
/// range, read in index order so that the scan stops at the bound; the
/// matches are sorted here and only the page's rows are read. `None` when a
/// range reaches the bound (many matches: see [`search_dense`]).
///
/// Statements are unnamed (`query_typed`) and so planned with the pattern's
/// value: only then can the planner turn the prefix into an index range.
async fn search_sparse(
    tx: &deadpool_postgres::Transaction<'_>,
    pattern: &str,
    everything: bool,
    offset_: u64,
    limit_: u64,
) -> Result<Option<Vec<SearchHit>>> {
    if everything {
        return Ok(None);
    }
    let rows = tx
        .query_typed(
            "(SELECT 1, element_id, object_type, object_key FROM objects \
               WHERE lower(object_key COLLATE \"default\") LIKE lower($1) \
               ORDER BY lower(object_key COLLATE \"default\") USING ~<~ LIMIT $2) \
             UNION ALL \
             (SELECT 2, element_id, object_type, object_key FROM objects \
               WHERE lower(name COLLATE \"default\") LIKE lower($1) \
               ORDER BY lower(name COLLATE \"default\") USING ~<~ LIMIT $2)",
            &[(&pattern, Type::TEXT), (&SEARCH_SPARSE, Type::INT8)],
        )
        .await
        .map_err(db)?;
    let mut per_index = [0i64; 2];
    let mut found: Vec<(i64, &str, &str)> = Vec::with_capacity(rows.len());
    for r in &rows {
        per_index[usize::from(get::<i32>(r, 0)? == 2)] += 1;
        found.push((get(r, 1)?, get(r, 2)?, get(r, 3)?));
    }
    if per_index.iter().any(|&n| n >= SEARCH_SPARSE) {
        return Ok(None);
    }
    if found.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let names: HashMap<i64, String> = tx
        .query("SELECT id, name FROM elements", &[])
        .await
        .map_err(db)?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
        .collect::<Result<_>>()?;
    // Element names, types and keys compare as bytes: the columns' "C"
    // collation, and SQLite's order.
    let mut page: Vec<(&str, &str, &str, i64)> = found
        .into_iter()
        .filter_map(|(e, t, k)| names.get(&e).map(|n| (n.as_str(), t, k, e)))
        .collect();
    page.sort_unstable();
    page.dedup();
    let start = usize::try_from(offset_)
        .unwrap_or(usize::MAX)
        .min(page.len());
    let end = match limit_ {
        0 => page.len(),
        n => start
            .saturating_add(usize::try_from(n).unwrap_or(usize::MAX))
            .min(page.len()),
    };
    let page = &page[start..end];
    let elements: Vec<i64> = page.iter().map(|p| p.3).collect();
    let types: Vec<&str> = page.iter().map(|p| p.1).collect();
    let keys: Vec<&str> = page.iter().map(|p| p.2).collect();
    let rows = tx
        .query(
            &format!(
                "SELECT {HIT_COLUMNS} FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS d(e, t, k, n) \
                 JOIN objects o ON o.element_id = d.e AND o.object_type = d.t AND o.object_key = d.k \
                 JOIN elements e ON e.id = d.e ORDER BY d.n"
            ),
            &[&elements, &types, &keys],
        )
        .await
        .map_err(db)?;
    rows.iter().map(hit_from).collect::<Result<_>>().map(Some)
}

/// Search when a prefix matches many objects: per element, in the order of
/// its primary key, the first matches; found soon when matches are dense.
async fn search_dense(
    tx: &deadpool_postgres::Transaction<'_>,
    pattern: &str,
    offset_: u64,
    limit_: u64,
) -> Result<Vec<SearchHit>> {
    let (lim, off) = (limit(limit_), offset(offset_));
    let per_element = lim.map(|l| l.saturating_add(off));
    let rows = tx
        .query_typed(
            &format!(
                "SELECT {HIT_COLUMNS} FROM elements e CROSS JOIN LATERAL ( \
                   SELECT * FROM objects o WHERE o.element_id = e.id \
                     AND (lower(o.object_key COLLATE \"default\") LIKE lower($1) OR lower(o.name COLLATE \"default\") LIKE lower($1)) \
                   ORDER BY o.object_type, o.object_key LIMIT $2) o \
                 ORDER BY e.name, o.object_type, o.object_key LIMIT $3 OFFSET $4"
            ),
            &[
                (&pattern, Type::TEXT),
                (&per_element, Type::INT8),
                (&lim, Type::INT8),
                (&off, Type::INT8),
            ],
        )
        .await
        .map_err(db)?;
    rows.iter().map(hit_from).collect()
}

#[async_trait]
impl Store for PgStore {
    async fn add_element(&self, e: NewElement) -> Result<Element> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let inserted = tx
            .execute(
                "WITH e AS ( \
                   INSERT INTO elements (name, kind, host, alternate_host, port, login, password_enc, settings, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) RETURNING id) \
                 INSERT INTO sync_state (element_id) SELECT id FROM e",
                &[
                    &e.name.as_str(),
                    &e.kind.as_str(),
                    &e.host,
                    &e.alternate_host,
                    &i32::from(e.port),
                    &e.login,
                    &self.secret.encrypt(&e.password),
                    &Json(&e.settings),
                ],
            )
            .await;
        match inserted {
            Err(err) if is_unique_violation(&err, "elements_name_key") => {
                return Err(StoreError::Exists(e.name.to_string()));
            }
            r => r.map_err(db)?,
        };
        let out = load_element(&tx, e.name.as_str())
            .await?
            .ok_or_else(|| StoreError::NoElement(e.name.to_string()))?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn element(&self, name: &str) -> Result<Option<Element>> {
        load_element(&self.client().await?, name).await
    }

    async fn elements(&self) -> Result<Vec<Element>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!("SELECT {ELEMENT_COLUMNS} FROM elements e LEFT JOIN sync_state s ON s.element_id = e.id ORDER BY e.name"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(element_from).collect()
    }

    async fn element_password(&self, name: &str) -> Result<String> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT password_enc FROM elements WHERE name = $1")
            .await
            .map_err(db)?;
        let row = c.query_opt(&st, &[&name]).await.map_err(db)?;
        let row = row.ok_or_else(|| StoreError::NoElement(name.to_string()))?;
        Ok(self.secret.decrypt(get(&row, 0)?)?)
    }

    async fn remove_element(&self, name: &str) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let row = tx
            .query_opt(
                "SELECT id FROM elements WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else { return Ok(false) };
        let id: i64 = get(&row, 0)?;
        // Waits for a commit or change batch on the element to finish; any
        // later one finds no sync_state row and writes nothing.
        lock_sync_state(&tx, id).await?;
        tx.execute(
            "UPDATE jobs SET state = 'stopped', error = 'element removed', finished_at = now() \
             WHERE element_id = $1 AND state = 'queued'",
            &[&id],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "DELETE FROM staged WHERE job_id IN (SELECT id FROM jobs WHERE element_id = $1)",
            &[&id],
        )
        .await
        .map_err(db)?;
        for sql in [
            "DELETE FROM objects WHERE element_id = $1",
            "DELETE FROM changes WHERE element_id = $1",
            // The sync state and the default schedule go by their keys.
            "DELETE FROM elements WHERE id = $1",
        ] {
            tx.execute(sql, &[&id]).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn update_element(&self, name: &str, update: ElementUpdate) -> Result<Element> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let password = update.password.as_deref().map(|p| self.secret.encrypt(p));
        let (set_alternate, alternate) = match &update.alternate_host {
            Some(a) => (true, a.clone()),
            None => (false, None),
        };
        let n = tx
            .execute(
                "UPDATE elements SET host = coalesce($2, host), \
                   alternate_host = CASE WHEN $3 THEN $4 ELSE alternate_host END, \
                   port = coalesce($5, port), login = coalesce($6, login), \
                   password_enc = coalesce($7, password_enc), settings = coalesce($8, settings) \
                 WHERE name = $1",
                &[
                    &name,
                    &update.host,
                    &set_alternate,
                    &alternate,
                    &update.port.map(i32::from),
                    &update.login,
                    &password,
                    &update.settings.as_ref().map(Json),
                ],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::NoElement(name.to_string()));
        }
        let out = load_element(&tx, name)
            .await?
            .ok_or_else(|| StoreError::NoElement(name.to_string()))?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn object_hashes(&self, element: ElementId) -> Result<HashIndex> {
        // Digest ranges on several connections at once; each comes back in
        // digest order from the index alone, so the parts joined in order
        // are sorted.
        let n = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, LOAD_PARTS);
        let parts = (0..n).map(|i| async move {
            let (lo, hi) = digest_range(i, n);
            let c = self.client().await?;
            let st = c
                .prepare_cached(
                    "SELECT digest, hash, object_type FROM objects \
                     WHERE element_id = $1 AND digest >= $2 AND digest <= $3 ORDER BY digest",
                )
                .await
                .map_err(db)?;
            let params: [&(dyn ToSql + Sync); 3] = [&element, &&lo[..], &&hi[..]];
            let rows = c.query_raw(&st, params).await.map_err(db)?;
            let mut rows = std::pin::pin!(rows);
            let mut out = HashIndexBuilder::default();
            while let Some(r) = rows.try_next().await.map_err(db)? {
                let digest = bytes16(get(&r, 0)?, "digest")?;
                let hash = bytes16(get(&r, 1)?, "hash")?;
                out.push_digest(get(&r, 2)?, u128::from_be_bytes(digest), ContentHash(hash));
            }
            Ok::<_, StoreError>(out)
        });
        let mut all = HashIndexBuilder::default();
        for part in futures::future::try_join_all(parts).await? {
            all.append(part);
        }
        Ok(all.build())
    }

    async fn object_ids(&self, element: ElementId, digests: Vec<u128>) -> Result<Vec<ObjectId>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let mut digests = digests;
        digests.sort_unstable();
        digests.dedup();
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT object_type, object_key FROM objects WHERE element_id = $1 AND digest = ANY($2) ORDER BY digest",
            )
            .await
            .map_err(db)?;
        let mut out = Vec::new();
        for chunk in digests.chunks(DIGEST_CHUNK) {
            let blobs: Vec<Vec<u8>> = chunk.iter().map(|d| d.to_be_bytes().to_vec()).collect();
            for r in c.query(&st, &[&element, &blobs]).await.map_err(db)? {
                out.push(ObjectId::new(get::<&str>(&r, 0)?, get::<&str>(&r, 1)?));
            }
        }
        Ok(out)
    }

    async fn objects(&self, element: ElementId, q: &ObjectQuery) -> Result<Vec<StoredObject>> {
        let c = self.client().await?;
        let mut sql = String::from(
            "SELECT object_type, object_key, fields, hash, updated_at FROM objects WHERE element_id = $1",
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&element];
        if let Some(t) = &q.object_type {
            params.push(t);
            sql.push_str(&format!(" AND object_type = ${}", params.len()));
        }
        if let Some(k) = &q.key {
            params.push(k);
            sql.push_str(&format!(" AND object_key = ${}", params.len()));
        }
        let (lim, off) = (limit(q.limit), offset(q.offset));
        params.push(&lim);
        params.push(&off);
        sql.push_str(&format!(
            " ORDER BY object_type, length(object_key), object_key LIMIT ${} OFFSET ${}",
            params.len() - 1,
            params.len()
        ));
        let st = c.prepare_cached(&sql).await.map_err(db)?;
        let rows = c.query(&st, &params).await.map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(StoredObject {
                    id: ObjectId::new(get::<&str>(r, 0)?, get::<&str>(r, 1)?),
                    fields: fields_from(get(r, 2)?)?,
                    hash: ContentHash(bytes16(get(r, 3)?, "hash")?),
                    updated_at: time(r, 4)?,
                })
            })
            .collect()
    }

    async fn object_count(&self, element: ElementId) -> Result<u64> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT count(*) FROM objects WHERE element_id = $1")
            .await
            .map_err(db)?;
        let n: i64 = get(&c.query_one(&st, &[&element]).await.map_err(db)?, 0)?;
        Ok(n as u64)
    }

    async fn object_counts_by_type(&self, element: ElementId) -> Result<BTreeMap<String, u64>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT object_type, count(*) FROM objects WHERE element_id = $1 GROUP BY object_type",
            )
            .await
            .map_err(db)?;
        c.query(&st, &[&element])
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u64)))
            .collect()
    }

    async fn search(&self, text: &str, offset_: u64, limit_: u64) -> Result<Vec<SearchHit>> {
        let mut c = self.client().await?;
        // One snapshot for the steps below.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        // A bitmap scan reads every match of a prefix before the first
        // comes out, and the planner prefers it for wide prefixes: the very
        // case where reading the prefix index in order and stopping at the
        // bound is cheap.
        tx.batch_execute("SET LOCAL enable_bitmapscan = off")
            .await
            .map_err(db)?;
        let pattern = prefix_pattern(text);
        let hits = match search_sparse(&tx, &pattern, text.is_empty(), offset_, limit_).await? {
            Some(hits) => hits,
            None => search_dense(&tx, &pattern, offset_, limit_).await?,
        };
        tx.commit().await.map_err(db)?;
        Ok(hits)
    }

    async fn counts(&self) -> Result<StoreCounts> {
        let c = self.client().await?;
        let objects = c
            .query(
                "SELECT e.name, n.object_type, n.count FROM \
                   (SELECT element_id, object_type, count(*) AS count FROM objects GROUP BY element_id, object_type) n \
                 JOIN elements e ON e.id = n.element_id ORDER BY e.name, n.object_type",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((get(r, 0)?, get(r, 1)?, get::<i64>(r, 2)? as u64)))
            .collect::<Result<_>>()?;
        let jobs = c
            .query(
                "SELECT type, state, count(*) FROM jobs GROUP BY type, state ORDER BY type, state",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                Ok((
                    parse::<SyncType>(get(r, 0)?)?,
                    parse::<JobState>(get(r, 1)?)?,
                    get::<i64>(r, 2)? as u64,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(StoreCounts { objects, jobs })
    }

    async fn stage(&self, job: JobId, batch: Vec<Staged>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // One row per object, the last staged winning, as a replace would:
        // an upsert may not touch one row twice in a statement.
        let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
        for (i, s) in batch.iter().enumerate() {
            last.insert((&s.id.object_type, &s.id.key), i);
        }
        let rows: Vec<&Staged> = batch
            .iter()
            .enumerate()
            .filter(|(i, s)| last[&(s.id.object_type.as_str(), s.id.key.as_str())] == *i)
            .map(|(_, s)| s)
            .collect();
        let types: Vec<&str> = rows.iter().map(|s| s.id.object_type.as_str()).collect();
        let keys: Vec<&str> = rows.iter().map(|s| s.id.key.as_str()).collect();
        let digests: Vec<Vec<u8>> = rows.iter().map(|s| id_digest(&s.id).to_vec()).collect();
        let ops: Vec<&str> = rows.iter().map(|s| op_name(s.op)).collect();
        let fields: Vec<String> = rows.iter().map(|s| fields_json(&s.fields)).collect();
        let hashes: Vec<&[u8]> = rows.iter().map(|s| &s.hash.0[..]).collect();
        let names: Vec<Option<&str>> = rows.iter().map(|s| s.name.as_deref()).collect();
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "INSERT INTO staged (job_id, object_type, object_key, digest, op, fields, hash, name) \
                 SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::bytea[], $8::text[]) \
                 ON CONFLICT (job_id, object_type, object_key) DO UPDATE SET digest = excluded.digest, op = excluded.op, \
                   fields = excluded.fields, hash = excluded.hash, name = excluded.name",
            )
            .await
            .map_err(db)?;
        c.execute(
            &st,
            &[
                &job, &types, &keys, &digests, &ops, &fields, &hashes, &names,
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn commit_init(
        &self,
        job: JobId,
        element: ElementId,
        deletes: &[ObjectId],
        outcome: &InitOutcome,
    ) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        lock_sync_state(&tx, element).await?;
        // The changes are logged in key order, which sorts every staged row.
        tx.batch_execute("SET LOCAL work_mem = '64MB'")
            .await
            .map_err(db)?;
        // An update of what is stored, then an insert of the rest: no other
        // transaction writes the element's objects meanwhile (the lock
        // above), so no row can conflict, and an upsert's speculative
        // insertion of every row would only cost.
        tx.execute(
            "UPDATE objects o SET digest = s.digest, fields = s.fields, hash = s.hash, name = s.name, updated_at = now() \
             FROM staged s WHERE s.job_id = $2 AND s.op <> 'delete' \
               AND o.element_id = $1 AND o.object_type = s.object_type AND o.object_key = s.object_key",
            &[&element, &job],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO objects (element_id, object_type, object_key, digest, fields, hash, name, updated_at) \
             SELECT $1, s.object_type, s.object_key, s.digest, s.fields, s.hash, s.name, now() FROM staged s \
             WHERE s.job_id = $2 AND s.op <> 'delete' AND NOT EXISTS ( \
               SELECT 1 FROM objects o WHERE o.element_id = $1 AND o.object_type = s.object_type AND o.object_key = s.object_key)",
            &[&element, &job],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO changes (element_id, job_id, object_type, object_key, op, at) \
             SELECT $1, $2, object_type, object_key, op, now() FROM staged WHERE job_id = $2 \
             ORDER BY object_type, object_key",
            &[&element, &job],
        )
        .await
        .map_err(db)?;
        if !deletes.is_empty() {
            let types: Vec<&str> = deletes.iter().map(|d| d.object_type.as_str()).collect();
            let keys: Vec<&str> = deletes.iter().map(|d| d.key.as_str()).collect();
            tx.execute(
                "DELETE FROM objects o USING unnest($2::text[], $3::text[]) AS d(t, k) \
                 WHERE o.element_id = $1 AND o.object_type = d.t AND o.object_key = d.k",
                &[&element, &types, &keys],
            )
            .await
            .map_err(db)?;
            tx.execute(
                "INSERT INTO changes (element_id, job_id, object_type, object_key, op, at) \
                 SELECT $1, $2, d.t, d.k, 'delete', now() FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS d(t, k, n) \
                 ORDER BY d.n",
                &[&element, &job, &types, &keys],
            )
            .await
            .map_err(db)?;
        }
        tx.execute("DELETE FROM staged WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?;
        tx.execute(
            "UPDATE sync_state SET last_init_at = now(), last_init_ok = true, last_init_error = NULL, \
               version_at_init = $2, format_at_init = $3, sync_point = $4, last_sync_at = now(), last_success_at = now() \
             WHERE element_id = $1",
            &[
                &element,
                &outcome.version,
                &i64::from(outcome.format),
                &outcome.sync_point,
            ],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn keep_proposal(&self, job: JobId, deletes: &[ObjectId]) -> Result<()> {
        if deletes.is_empty() {
            return Ok(());
        }
        let unique: HashSet<&ObjectId> = deletes.iter().collect();
        let types: Vec<&str> = unique.iter().map(|d| d.object_type.as_str()).collect();
        let keys: Vec<&str> = unique.iter().map(|d| d.key.as_str()).collect();
        let digests: Vec<Vec<u8>> = unique.iter().map(|d| id_digest(d).to_vec()).collect();
        let c = self.client().await?;
        c.execute(
            "INSERT INTO staged (job_id, object_type, object_key, digest, op) \
             SELECT $1, t, k, d, 'delete' FROM unnest($2::text[], $3::text[], $4::bytea[]) AS u(t, k, d) \
             ON CONFLICT (job_id, object_type, object_key) DO UPDATE SET digest = excluded.digest, op = 'delete', \
               fields = NULL, hash = NULL, name = NULL",
            &[&job, &types, &keys, &digests],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn discard_staged(&self, job: JobId) -> Result<()> {
        let c = self.client().await?;
        c.execute("DELETE FROM staged WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn record_init_failure(&self, element: ElementId, error: &str) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE sync_state SET last_init_at = now(), last_init_ok = false, last_init_error = $2, last_sync_at = now() \
             WHERE element_id = $1",
            &[&element, &error],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn forget_sync_point(&self, element: ElementId) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE sync_state SET sync_point = NULL WHERE element_id = $1",
            &[&element],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn apply_changes(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
    ) -> Result<JobCounts> {
        self.apply(job, element, changes, sync_point, &[]).await
    }

    async fn apply_notify(
        &self,
        element: ElementId,
        changes: Vec<Change>,
        row_keys: &[String],
    ) -> Result<JobCounts> {
        self.apply(None, element, changes, None, row_keys).await
    }

    async fn notified_rows(&self, element: ElementId) -> Result<Vec<String>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT row_key FROM notify_applied WHERE element_id = $1 ORDER BY id",
                &[&element],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| get::<String>(r, 0)).collect()
    }

    async fn prune_notified_rows(&self, element: ElementId, before: DateTime<Utc>) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM notify_applied WHERE element_id = $1 AND applied_at < $2",
            &[&element, &before],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn record_notify_event(&self, element: ElementId, at: DateTime<Utc>) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE sync_state SET last_notify_at = $2 WHERE element_id = $1 \
             AND (last_notify_at IS NULL OR last_notify_at < $2)",
            &[&element, &at],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn changes_page(
        &self,
        job: JobId,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let c = self.client().await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let applied: i64 = c
            .query_one("SELECT count(*) FROM changes WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?
            .get(0);
        if applied > 0 {
            let st = c
                .prepare_cached(
                    "SELECT object_type, object_key, op, by_login, at_element, at FROM changes WHERE job_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
                )
                .await
                .map_err(db)?;
            let page = c
                .query(&st, &[&job, &limit, &offset])
                .await
                .map_err(db)?
                .iter()
                .map(|r| {
                    Ok(ChangeRecord {
                        object_type: get(r, 0)?,
                        key: get(r, 1)?,
                        op: get(r, 2)?,
                        by_login: get(r, 3)?,
                        at_element: get(r, 4)?,
                        at: time(r, 5)?,
                        applied: true,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok((page, count(applied)));
        }
        let at = c
            .query_opt(
                "SELECT coalesce(finished_at, created_at) FROM jobs WHERE id = $1",
                &[&job],
            )
            .await
            .map_err(db)?
            .ok_or(StoreError::NoJob(job))?;
        let at = time(&at, 0)?;
        let proposed: i64 = c
            .query_one("SELECT count(*) FROM staged WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?
            .get(0);
        let rows = c
            .query(
                "SELECT object_type, object_key, op FROM staged WHERE job_id = $1 \
                 ORDER BY object_type, length(object_key), object_key LIMIT $2 OFFSET $3",
                &[&job, &limit, &offset],
            )
            .await
            .map_err(db)?;
        let page = rows
            .iter()
            .map(|r| {
                Ok(ChangeRecord {
                    object_type: get(r, 0)?,
                    key: get(r, 1)?,
                    op: get(r, 2)?,
                    by_login: None,
                    at_element: None,
                    at: at.clone(),
                    applied: false,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((page, count(proposed)))
    }

    async fn request_job(&self, job: &NewJob) -> Result<Requested> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // Requests on one element take turns on its row, so two can never
        // both find nothing to join and both queue a job.
        let element = tx
            .query_opt(
                "SELECT id FROM elements WHERE name = $1 FOR UPDATE",
                &[&job.element.as_str()],
            )
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::NoElement(job.element.to_string()))?;
        let element_id: i64 = get(&element, 0)?;
        let st = tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE element = $1 AND state IN ('waiting', 'running', 'queued') \
                 AND requested = ANY($2) ORDER BY state <> 'queued' DESC, id LIMIT 1"
            ))
            .await
            .map_err(db)?;
        let existing = tx
            .query_opt(&st, &[&job.element.as_str(), &joinable(job.requested)])
            .await
            .map_err(db)?;
        let out = match existing {
            Some(r) => Requested {
                job: job_from(&r)?,
                joined: true,
            },
            None => {
                let st = tx
                    .prepare_cached(&format!(
                        "INSERT INTO jobs (element_id, element, requested, type, trigger, requested_by, state, created_at) \
                         VALUES ($1, $2, $3, $3, $4, $5, 'queued', now()) RETURNING {JOB_COLUMNS}"
                    ))
                    .await
                    .map_err(db)?;
                let r = tx
                    .query_one(
                        &st,
                        &[
                            &element_id,
                            &job.element.as_str(),
                            &job.requested.as_str(),
                            &job.trigger.as_str(),
                            &job.requested_by,
                        ],
                    )
                    .await
                    .map_err(db)?;
                Requested {
                    job: job_from(&r)?,
                    joined: false,
                }
            }
        };
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn claim_job(&self, node: &str, lease_until: DateTime<Utc>) -> Result<Option<Job>> {
        let asked = Utc::now();
        let mut c = self.client().await?;
        // The wait for a connection does not shorten the lease, nor (in
        // the statement) the wait for a lock.
        let lease_until = lease_until + (Utc::now() - asked);
        let mut skip: Vec<i64> = Vec::new();
        for _ in 0..CLAIM_ATTEMPTS {
            match PgStore::try_claim(&mut c, node, lease_until, &skip).await {
                Ok(None) => return Ok(None),
                Ok(Some(row)) => return job_from(&row).map(Some),
                // Another node started a job of that element after this
                // transaction's look: the index refused a second one. That
                // candidate is not claimable now; the next may be.
                Err((Some(id), e)) if is_unique_violation(&e, "jobs_one_running") => skip.push(id),
                Err((_, e)) => return Err(db(e)),
            }
        }
        Ok(None)
    }

    async fn describe_node(&self, node: &str, info: &NodeInfo, until: DateTime<Utc>) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO nodes (name, holder, alive_until, version, started_at, heartbeat_at, http, syslog) \
             VALUES ($1, $2, $3, $4, now(), now(), $5, $6) \
             ON CONFLICT (name) DO UPDATE SET alive_until = excluded.alive_until, version = excluded.version, \
               started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, \
               http = excluded.http, syslog = excluded.syslog",
            &[
                &node,
                &format!("ucsync {}", info.version),
                &until,
                &info.version,
                &info.http,
                &info.syslog,
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn nodes(&self) -> Result<Vec<NodeRecord>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT n.name, n.version, n.started_at, n.heartbeat_at, n.alive_until, n.http, n.syslog, \
                   (SELECT count(*) FROM jobs j WHERE j.node = n.name AND j.state IN ('waiting', 'running', 'stopping')) \
                 FROM nodes n ORDER BY n.name",
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(NodeRecord {
                    name: get(r, 0)?,
                    version: get(r, 1)?,
                    started_at: time_opt(r, 2)?,
                    heartbeat_at: time_opt(r, 3)?,
                    alive_until: time(r, 4)?,
                    http: get(r, 5)?,
                    syslog: get(r, 6)?,
                    jobs: u64::try_from(get::<i64>(r, 7)?).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn take_init_place(&self, id: JobId, pool: u32) -> Result<bool> {
        let mut c = self.client().await?;
        // Serializable: of two nodes counting the same free place at once,
        // one commits and the other fails and counts again.
        for _ in 0..PLACE_ATTEMPTS {
            match PgStore::try_take_place(&mut c, id, pool).await {
                Err(e) if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) => continue,
                r => return r.map_err(db),
            }
        }
        Ok(false)
    }

    async fn renew_leases(&self, node: &str, lease_until: DateTime<Utc>) -> Result<Vec<JobId>> {
        let asked = Utc::now();
        let mut c = self.client().await?;
        // Neither the wait for a connection nor (in the transaction) the
        // wait for a lock shortens the lease: a slow database cannot make a
        // live job look dead.
        let lease_until = lease_until + (Utc::now() - asked);
        let tx = c.transaction().await.map_err(db)?;
        let st = tx
            .prepare_cached(&format!(
                "UPDATE jobs SET lease_until = {LEASE_FROM_NOW} WHERE node = $1 AND state IN ('waiting', 'running', 'stopping') RETURNING id, state"
            ))
            .await
            .map_err(db)?;
        let mut out = Vec::new();
        for r in tx.query(&st, &[&node, &lease_until]).await.map_err(db)? {
            if get::<&str>(&r, 1)? == JobState::Stopping.as_str() {
                out.push(get(&r, 0)?);
            }
        }
        tx.execute(
            &format!(
                "UPDATE nodes SET alive_until = {LEASE_FROM_NOW}, heartbeat_at = now() WHERE name = $1"
            ),
            &[&node, &lease_until],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        out.sort_unstable();
        Ok(out)
    }

    async fn join_node(
        &self,
        node: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let c = self.client().await?;
        let joined = c
            .query_opt(
                "INSERT INTO nodes (name, holder, alive_until) VALUES ($1, $2, $4) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, alive_until = excluded.alive_until \
                 WHERE nodes.alive_until < $3 RETURNING name",
                &[&node, &holder, &now, &until],
            )
            .await
            .map_err(db)?;
        if joined.is_some() {
            return Ok(None);
        }
        let r = c
            .query_opt("SELECT holder FROM nodes WHERE name = $1", &[&node])
            .await
            .map_err(db)?;
        Ok(Some(match r {
            Some(r) => get(&r, 0)?,
            None => String::new(),
        }))
    }

    async fn leave_node(&self, node: &str) -> Result<()> {
        let c = self.client().await?;
        c.execute("DELETE FROM nodes WHERE name = $1", &[&node])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn fail_interrupted(&self, node: Option<&str>, now: DateTime<Utc>) -> Result<Vec<JobId>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let rows = tx
            .query(
                "UPDATE jobs SET state = 'failed', error = 'interrupted', finished_at = now() \
                 WHERE state IN ('waiting', 'running', 'stopping') AND (lease_until < $2 OR ($1::text IS NOT NULL AND node = $1)) \
                 RETURNING id, node, lease_until",
                &[&node, &now],
            )
            .await
            .map_err(db)?;
        let mut gone: Vec<(JobId, String)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let owner: Option<&str> = get(r, 1)?;
            let lease = time_opt(r, 2)?;
            let line = if owner.is_some() && owner == node {
                format!(
                    "failed: interrupted (node {} restarted while it ran)",
                    owner.unwrap_or("?")
                )
            } else {
                format!(
                    "failed: interrupted (node {} stopped renewing its lease, which ended at {})",
                    owner.unwrap_or("?"),
                    lease.as_deref().unwrap_or("?")
                )
            };
            gone.push((get(r, 0)?, line));
        }
        gone.sort_unstable();
        if !gone.is_empty() {
            let ids: Vec<JobId> = gone.iter().map(|(id, _)| *id).collect();
            let lines: Vec<&str> = gone.iter().map(|(_, l)| l.as_str()).collect();
            tx.execute(
                "INSERT INTO job_log (job_id, at, line) SELECT id, now(), line FROM unnest($1::bigint[], $2::text[]) AS u(id, line)",
                &[&ids, &lines],
            )
            .await
            .map_err(db)?;
            tx.execute("DELETE FROM staged WHERE job_id = ANY($1)", &[&ids])
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(gone.into_iter().map(|(id, _)| id).collect())
    }

    async fn stop_job(&self, id: JobId) -> Result<Option<Job>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "UPDATE jobs SET state = CASE state WHEN 'queued' THEN 'stopped' ELSE 'stopping' END, \
                   error = CASE state WHEN 'queued' THEN 'stopped before it started' ELSE error END, \
                   finished_at = CASE state WHEN 'queued' THEN now() ELSE finished_at END \
                 WHERE id = $1 AND state IN ('queued', 'waiting', 'running') RETURNING {JOB_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        match c.query_opt(&st, &[&id]).await.map_err(db)? {
            Some(r) => job_from(&r).map(Some),
            None => load_job(&c, id).await,
        }
    }

    async fn create_job(
        &self,
        job: &NewJob,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<Job> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "INSERT INTO jobs (element_id, element, requested, type, reason, trigger, requested_by, state, created_at) \
                 VALUES ((SELECT id FROM elements WHERE name = $1), $1, $2, $3, $4, $5, $6, 'queued', now()) \
                 RETURNING {JOB_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        let r = c
            .query_one(
                &st,
                &[
                    &job.element.as_str(),
                    &job.requested.as_str(),
                    &sync_type.as_str(),
                    &reason,
                    &job.trigger.as_str(),
                    &job.requested_by,
                ],
            )
            .await
            .map_err(db)?;
        job_from(&r)
    }

    async fn job(&self, id: JobId) -> Result<Option<Job>> {
        load_job(&self.client().await?, id).await
    }

    async fn jobs(
        &self,
        element: Option<&str>,
        state: Option<JobState>,
        offset_: u64,
        limit_: u64,
    ) -> Result<Vec<Job>> {
        let c = self.client().await?;
        let state = state.map(JobState::as_str);
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE true");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(e) = &element {
            params.push(e);
            sql.push_str(&format!(" AND element = ${}", params.len()));
        }
        if let Some(s) = &state {
            params.push(s);
            sql.push_str(&format!(" AND state = ${}", params.len()));
        }
        let (lim, off) = (limit(limit_), offset(offset_));
        params.push(&lim);
        params.push(&off);
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT ${} OFFSET ${}",
            params.len() - 1,
            params.len()
        ));
        let st = c.prepare_cached(&sql).await.map_err(db)?;
        let rows = c.query(&st, &params).await.map_err(db)?;
        rows.iter().map(job_from).collect()
    }

    async fn last_finished_jobs(&self, element: Option<&str>) -> Result<Vec<Job>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM (SELECT *, row_number() OVER \
                 (PARTITION BY element ORDER BY finished_at DESC, id DESC) AS newest FROM jobs \
                 WHERE state IN ('succeeded', 'failed', 'stopped') AND started_at IS NOT NULL \
                 AND ($1::text IS NULL OR element = $1)) j WHERE newest = 1 ORDER BY element"
            ))
            .await
            .map_err(db)?;
        let rows = c.query(&st, &[&element]).await.map_err(db)?;
        rows.iter().map(job_from).collect()
    }

    async fn set_job_state(&self, id: JobId, state: JobState, error: Option<&str>) -> Result<()> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "UPDATE jobs SET state = $2, error = coalesce($3, error), \
                   started_at = CASE WHEN $2 = 'running' AND started_at IS NULL THEN now() ELSE started_at END, \
                   finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'stopped') THEN now() ELSE finished_at END \
                 WHERE id = $1",
            )
            .await
            .map_err(db)?;
        match c.execute(&st, &[&id, &state.as_str(), &error]).await {
            Ok(0) => Err(StoreError::NoJob(id)),
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e, "jobs_one_running") => Err(StoreError::Database(
                format!("job {id} cannot run: another job of its element is running"),
            )),
            Err(e) => Err(db(e)),
        }
    }

    async fn set_job_type(
        &self,
        id: JobId,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE jobs SET type = $2, reason = $3 WHERE id = $1",
            &[&id, &sync_type.as_str(), &reason],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn set_job_progress(
        &self,
        id: JobId,
        progress: &Progress,
        counts: &JobCounts,
    ) -> Result<()> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("UPDATE jobs SET progress = $2, counts = $3 WHERE id = $1")
            .await
            .map_err(db)?;
        c.execute(&st, &[&id, &Json(progress), &Json(counts)])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn job_log(&self, id: JobId, line: &str) -> Result<()> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("INSERT INTO job_log (job_id, at, line) VALUES ($1, now(), $2)")
            .await
            .map_err(db)?;
        c.execute(&st, &[&id, &line]).await.map_err(db)?;
        Ok(())
    }

    async fn job_log_lines(&self, id: JobId) -> Result<Vec<String>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT line FROM job_log WHERE job_id = $1 ORDER BY id")
            .await
            .map_err(db)?;
        c.query(&st, &[&id])
            .await
            .map_err(db)?
            .iter()
            .map(|r| get(r, 0))
            .collect()
    }

    async fn create_token(&self, name: &str, role: Role, secret_hash: &[u8; 32]) -> Result<Token> {
        let c = self.client().await?;
        let r = c
            .query_one(
                &format!(
                    "INSERT INTO tokens (name, role, secret_hash, created_at) VALUES ($1, $2, $3, now()) RETURNING {TOKEN_COLUMNS}"
                ),
                &[&name, &role.as_str(), &&secret_hash[..]],
            )
            .await;
        match r {
            Ok(r) => token_from(&r),
            // Not the database's message: its detail shows the hash.
            Err(e) if is_unique_violation(&e, "tokens_secret_hash_key") => Err(
                StoreError::Database("a token with this secret already exists".into()),
            ),
            Err(e) => Err(db(e)),
        }
    }

    async fn tokens(&self) -> Result<Vec<Token>> {
        let c = self.client().await?;
        c.query(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY id"),
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(token_from)
        .collect()
    }

    async fn token_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<Token>> {
        // Every API request looks its token up: a read, and a write only when
        // the recorded use is a minute old, so that requests do not queue on
        // the token's row lock and write a row version each.
        let c = self.client().await?;
        let find = c
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS}, last_used_at IS NULL OR last_used_at < now() - interval '1 minute' \
                 FROM tokens WHERE secret_hash = $1"
            ))
            .await
            .map_err(db)?;
        let hash: &(dyn ToSql + Sync) = &&secret_hash[..];
        let Some(row) = c.query_opt(&find, &[hash]).await.map_err(db)? else {
            return Ok(None);
        };
        if !get::<bool>(&row, 5)? {
            return token_from(&row).map(Some);
        }
        let record = c
            .prepare_cached(&format!(
                "UPDATE tokens SET last_used_at = now() WHERE secret_hash = $1 \
                 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') \
                 RETURNING {TOKEN_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        match c.query_opt(&record, &[hash]).await.map_err(db)? {
            Some(r) => token_from(&r).map(Some),
            // Another request recorded the use first, or the token was
            // deleted meanwhile: as it is now.
            None => c
                .query_opt(&find, &[hash])
                .await
                .map_err(db)?
                .map(|r| token_from(&r))
                .transpose(),
        }
    }

    async fn delete_token(&self, id: i64) -> Result<TokenRemoval> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // Two removals at once must not take the last two admin tokens: the
        // admin rows are locked while one is counted and removed.
        let admin = Role::Admin.as_str();
        let admins = tx
            .query(
                "SELECT id FROM tokens WHERE role = $1 FOR UPDATE",
                &[&admin],
            )
            .await
            .map_err(db)?;
        let is_admin = admins.iter().any(|r| r.get::<_, i64>(0) == id);
        let out = if is_admin && admins.len() <= 1 {
            TokenRemoval::LastAdmin
        } else {
            let n = tx
                .execute("DELETE FROM tokens WHERE id = $1", &[&id])
                .await
                .map_err(db)?;
            if n > 0 {
                TokenRemoval::Removed
            } else {
                TokenRemoval::NoToken
            }
        };
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn add_schedule(&self, s: &NewSchedule) -> Result<ScheduleRecord> {
        let c = self.client().await?;
        let default_for = s.default_for.as_ref().map(ElementName::as_str);
        let r = c
            .query_one(
                &format!(
                    "INSERT INTO schedules (name, default_for, spec, next_due, created_at) VALUES ($1, $2, $3, $4, now()) \
                     RETURNING {SCHEDULE_COLUMNS}"
                ),
                &[&s.name, &default_for, &Json(&s.spec), &s.next_due],
            )
            .await;
        match r {
            Ok(r) => schedule_from(&r),
            Err(e) if is_unique_violation(&e, "schedules_default_for_key") => Err(
                StoreError::DefaultExists(default_for.unwrap_or_default().to_string()),
            ),
            Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => Err(
                StoreError::NoElement(default_for.unwrap_or_default().to_string()),
            ),
            Err(e) => Err(db(e)),
        }
    }

    async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        let c = self.client().await?;
        c.query(
            &format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY id"),
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(schedule_from)
        .collect()
    }

    async fn schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1"),
            &[&id],
        )
        .await
        .map_err(db)?
        .map(|r| schedule_from(&r))
        .transpose()
    }

    async fn update_schedule(
        &self,
        id: ScheduleId,
        name: &str,
        spec: &serde_json::Value,
        next_due: Option<&str>,
    ) -> Result<ScheduleRecord> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                &format!(
                    "UPDATE schedules SET name = $2, spec = $3, next_due = $4 WHERE id = $1 \
                     RETURNING {SCHEDULE_COLUMNS}"
                ),
                &[&id, &name, &Json(spec), &next_due],
            )
            .await
            .map_err(db)?
            .ok_or(StoreError::NoSchedule(id))?;
        schedule_from(&r)
    }

    async fn delete_schedule(&self, id: ScheduleId) -> Result<bool> {
        let c = self.client().await?;
        let n = c
            .execute("DELETE FROM schedules WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn schedule_fired(
        &self,
        id: ScheduleId,
        expected_due: Option<&str>,
        last_fired: Option<&str>,
        next_due: Option<&str>,
    ) -> Result<bool> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "UPDATE schedules SET last_fired = $3, next_due = $4 \
                 WHERE id = $1 AND next_due IS NOT DISTINCT FROM $2::text",
            )
            .await
            .map_err(db)?;
        let n = c
            .execute(&st, &[&id, &expected_due, &last_fired, &next_due])
            .await
            .map_err(db)?;
        Ok(n == 1)
    }
}
