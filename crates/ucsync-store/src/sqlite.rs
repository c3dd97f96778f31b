//! The embedded SQLite backend: WAL, migrations at open, one writer and a few
//! readers, every call on the blocking pool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::Semaphore;
use ucsync_core::{
    ContentHash, ElementName, Fields, HashIndex, HashIndexBuilder, JobState, ObjectId, PlanOp,
    Role, SecretKey, SyncType, key_digest,
};

use crate::model::*;
use crate::{ObjectQuery, Result, Store, StoreError};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/001_initial.sql"),
    include_str!("../migrations/sqlite/002_hash_index.sql"),
    include_str!("../migrations/sqlite/003_digest_index.sql"),
    include_str!("../migrations/sqlite/004_service.sql"),
    include_str!("../migrations/sqlite/005_notify.sql"),
    include_str!("../migrations/sqlite/006_search_listing.sql"),
    include_str!("../migrations/sqlite/007_nodes.sql"),
    include_str!("../migrations/sqlite/008_init_pool.sql"),
];
const READERS: usize = 4;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn now() -> String {
    ts(Utc::now())
}

/// A time as stored: every stored time has this one format and length, so
/// that comparing them as text compares them as times.
/// A count or offset as SQL takes it (past `i64::MAX`: all).
fn sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// ucsync's database in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Reader>>>,
    /// Reads wait here, not on a thread of the blocking pool: with a thread
    /// per waiting read, 50 API clients kept dozens of threads fighting over
    /// SQLite's global mutexes, and reads beyond the pool each opened (and
    /// threw away) a connection of their own, its schema parsed and its page
    /// cache cold. Writes wait on the writer's mutex instead: a semaphore's
    /// hand-over (wake a task, then a blocking thread) left the one writer
    /// idle between writes, and the queue ran a fifth slower.
    reading: Arc<Semaphore>,
    secret: SecretKey,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384;")?;
    // A statement whose plan looked at a bound value (SQLite does for
    // `min(…) … WHERE element_id = ?1`, as search's type walk has) is
    // compiled again whenever its bindings are cleared — and rusqlite
    // clears them each time a cached statement goes back to the cache.
    // Search ran hundreds of such statements per request, each parsed and
    // planned anew. Plans that ignore bound values keep the cache useful;
    // no query here depends on a value for its plan (partial indexes are
    // matched by literals in the text).
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(c)
}

impl SqliteStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub async fn open(path: &Path, secret: SecretKey) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        let p = path.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let mut c = connect(&p).map_err(db)?;
            // Writes that read first (the queue's, above all) must not be
            // overtaken by another connection to the same file between the
            // read and the write: take the write lock when they begin.
            c.set_transaction_behavior(TransactionBehavior::Immediate);
            migrate(&mut c)?;
            Ok(c)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        Ok(SqliteStore {
            path,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Mutex::new(Vec::new())),
            reading: Arc::new(Semaphore::new(READERS)),
            secret,
        })
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &SecretKey) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let w = self.writer.clone();
        let secret = self.secret.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = w.lock().expect("writer");
            f(&mut c, &secret)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))?
    }

    /// Applies changes (and records notify-applied rows), moving the sync
    /// point when one is given, in one transaction.
    async fn apply(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
        row_keys: Vec<String>,
    ) -> Result<JobCounts> {
        let sync_point = sync_point.map(str::to_string);
        self.write(move |c, _| {
            let at = now();
            let tx = c.transaction().map_err(db)?;
            let mut counts = JobCounts::default();
            {
                let mut up = tx
                    .prepare_cached("INSERT OR REPLACE INTO objects (element_id, object_type, object_key, fields, hash, name, updated_at, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .map_err(db)?;
                let mut del = tx.prepare_cached("DELETE FROM objects WHERE element_id = ?1 AND object_type = ?2 AND object_key = ?3").map_err(db)?;
                let mut exists = tx.prepare_cached("SELECT hash FROM objects WHERE element_id = ?1 AND object_type = ?2 AND object_key = ?3").map_err(db)?;
                let mut log = tx
                    .prepare_cached("INSERT INTO changes (element_id, job_id, object_type, object_key, op, by_login, at_element, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .map_err(db)?;
                for ch in &changes {
                    let before: Option<Vec<u8>> = exists.query_row(params![element, ch.id.object_type, ch.id.key], |r| r.get(0)).optional().map_err(db)?;
                    let after = ch.upsert.as_ref().map(|(_, hash, _)| hash);
                    let Some(op) = counts.count_change(before.as_deref(), after) else {
                        continue;
                    };
                    match &ch.upsert {
                        Some((fields, hash, name)) => up.execute(params![element, ch.id.object_type, ch.id.key, fields_json(fields), &hash.0[..], name, at, &id_digest(&ch.id)[..]]),
                        None => del.execute(params![element, ch.id.object_type, ch.id.key]),
                    }
                    .map_err(db)?;
                    log.execute(params![element, job, ch.id.object_type, ch.id.key, op, ch.by_login, ch.at_element, at]).map_err(db)?;
                }
            }
            if !row_keys.is_empty() {
                let mut add = tx
                    .prepare_cached("INSERT INTO notify_applied (element_id, row_key, applied_at) VALUES (?1, ?2, ?3)")
                    .map_err(db)?;
                for k in &row_keys {
                    add.execute(params![element, k, at]).map_err(db)?;
                }
            }
            if let Some(p) = &sync_point {
                tx.execute("UPDATE sync_state SET sync_point = ?2, last_sync_at = ?3, last_success_at = ?3 WHERE element_id = ?1", params![element, p, at]).map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(counts)
        })
        .await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &SecretKey) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.read_with(move |c, _, secret| f(c, secret)).await
    }

    /// A read that may use what its connection remembers.
    async fn read_with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &mut TypeCache, &SecretKey) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let secret = self.secret.clone();
        let turn = self
            .reading
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let reader = readers.lock().expect("readers").pop();
            let mut reader = match reader {
                Some(r) => r,
                None => Reader {
                    conn: connect(&path).map_err(db)?,
                    types: TypeCache::default(),
                },
            };
            // One read transaction for all the call's statements: one
            // snapshot for them all, and the WAL's read lock taken once, not
            // once per statement (search runs hundreds of small ones).
            let out = match reader.conn.unchecked_transaction() {
                Ok(tx) => f(&tx, &mut reader.types, &secret),
                Err(e) => Err(db(e)),
            };
            let mut pool = readers.lock().expect("readers");
            if pool.len() < READERS {
                pool.push(reader);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))?
    }
}

/// A reader connection, and what it remembers between calls.
struct Reader {
    conn: Connection,
    types: TypeCache,
}

/// Each element's object types, as a reader connection last read them.
/// Search walks elements and their types in order, and finding an element's
/// types is a seek per type into the objects' primary key — a quarter of a
/// search whose page spans many elements. Remembered per connection, for as
/// long as its `PRAGMA data_version` stays the same: that changes with every
/// commit of any other connection, this store's writer or another process.
#[derive(Default)]
struct TypeCache {
    data_version: Option<i64>,
    types: std::collections::HashMap<ElementId, Vec<String>>,
}

impl TypeCache {
    /// Forgets everything if the database changed since it was filled; call
    /// at the start of a read transaction, before reading any types.
    fn check(&mut self, c: &Connection) -> Result<()> {
        let v: i64 = c
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(db)?;
        if self.data_version != Some(v) {
            self.types.clear();
            self.data_version = Some(v);
        }
        Ok(())
    }

    fn of(&mut self, c: &Connection, element: ElementId) -> Result<&[String]> {
        Ok(match self.types.entry(element) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(object_types(c, element)?),
        })
    }
}

fn migrate(c: &mut Connection) -> Result<()> {
    let user_version = |c: &Connection| -> Result<usize> {
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        Ok(v.max(0) as usize)
    };
    let found = user_version(c)?;
    if found > MIGRATIONS.len() {
        return Err(crate::newer_schema(found, MIGRATIONS.len()));
    }
    if found == MIGRATIONS.len() {
        return Ok(());
    }
    // Migrations that fill digests of rows already stored call this.
    c.create_scalar_function(
        "ucsync_key_digest",
        2,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(digest_blob(key_digest(&ctx.get::<String>(0)?, &ctx.get::<String>(1)?)).to_vec()),
    )
    .map_err(db)?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        // The version is read under the write lock: of several processes
        // opening one file at once, one migrates and the others see it done.
        let tx = c.transaction().map_err(db)?;
        let now = user_version(&tx)?;
        if now > MIGRATIONS.len() {
            return Err(crate::newer_schema(now, MIGRATIONS.len()));
        }
        if now > i {
            continue;
        }
        tx.execute_batch(sql).map_err(db)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(db)?;
        tx.commit().map_err(db)?;
        tracing::info!(migration = i + 1, "database schema migrated");
    }
    c.remove_function("ucsync_key_digest", 2).map_err(db)?;
    Ok(())
}

/// A digest as stored: big-endian, so that blobs sort as the digests do.
fn digest_blob(d: u128) -> [u8; 16] {
    d.to_be_bytes()
}

fn id_digest(id: &ObjectId) -> [u8; 16] {
    digest_blob(key_digest(&id.object_type, &id.key))
}

/// How many digest ranges an init's load reads in parallel.
fn load_parts() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, READERS)
}

/// The bounds of part `i` of `n` of the digest space, as stored blobs; the
/// last part has no upper bound.
fn digest_range(i: usize, n: usize) -> ([u8; 16], Option<[u8; 16]>) {
    let bound = |i: usize| digest_blob(((u128::MAX / n as u128) + 1) * i as u128);
    (
        if i == 0 { [0; 16] } else { bound(i) },
        (i + 1 < n).then(|| bound(i + 1)),
    )
}

/// A 16-byte blob column.
fn blob16(r: &Row<'_>, i: usize, what: &str) -> Result<[u8; 16]> {
    r.get_ref(i)
        .map_err(db)?
        .as_blob()
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Database(format!("stored {what} is not 16 bytes")))
}

fn fields_json(f: &Fields) -> String {
    serde_json::to_string(f).expect("fields serialize")
}

fn fields_from(s: &str) -> Result<Fields> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("stored fields: {e}")))
}

fn hash_from(b: Vec<u8>) -> Result<ContentHash> {
    let a: [u8; 16] = b
        .try_into()
        .map_err(|_| StoreError::Database("stored hash is not 16 bytes".into()))?;
    Ok(ContentHash(a))
}

fn parse<T: std::str::FromStr<Err = String>>(s: String) -> Result<T> {
    s.parse().map_err(StoreError::Database)
}

const ELEMENT_COLUMNS: &str = "e.id, e.name, e.kind, e.host, e.alternate_host, e.port, e.login, e.settings, e.created_at, \
     s.last_init_at, s.last_init_ok, s.last_init_error, s.version_at_init, s.format_at_init, s.sync_point, s.last_sync_at, s.last_success_at, s.last_notify_at";

fn element_row(r: &Row) -> rusqlite::Result<(Element, String, String, String)> {
    Ok((
        Element {
            id: r.get(0)?,
            name: ElementName::parse("placeholder").expect("valid"),
            kind: ucsync_core::ElementKind::Cm,
            host: r.get(3)?,
            alternate_host: r.get(4)?,
            port: r.get::<_, i64>(5)? as u16,
            login: r.get(6)?,
            settings: ElementSettings::default(),
            created_at: r.get(8)?,
            sync: SyncState {
                last_init_at: r.get(9)?,
                last_init_ok: r.get(10)?,
                last_init_error: r.get(11)?,
                version_at_init: r.get(12)?,
                format_at_init: r.get(13)?,
                sync_point: r.get(14)?,
                last_sync_at: r.get(15)?,
                last_success_at: r.get(16)?,
                last_notify_at: r.get(17)?,
            },
        },
        r.get(1)?,
        r.get(2)?,
        r.get(7)?,
    ))
}

fn finish_element(
    (mut e, name, kind, settings): (Element, String, String, String),
) -> Result<Element> {
    e.name = ElementName::parse(&name).map_err(|e| StoreError::Database(e.to_string()))?;
    e.kind = parse(kind)?;
    e.settings = serde_json::from_str(&settings)
        .map_err(|e| StoreError::Database(format!("element settings: {e}")))?;
    Ok(e)
}

fn load_element(c: &Connection, name: &str) -> Result<Option<Element>> {
    let sql = format!(
        "SELECT {ELEMENT_COLUMNS} FROM elements e LEFT JOIN sync_state s ON s.element_id = e.id WHERE e.name = ?1"
    );
    c.query_row(&sql, [name], element_row)
        .optional()
        .map_err(db)?
        .map(finish_element)
        .transpose()
}

const JOB_COLUMNS: &str = "id, element, requested, type, reason, trigger, requested_by, state, progress, counts, error, created_at, started_at, finished_at, node";

type JobRow = (Job, [String; 4], String, String);

fn job_row(r: &Row) -> rusqlite::Result<JobRow> {
    Ok((
        Job {
            id: r.get(0)?,
            element: r.get(1)?,
            requested: SyncType::Init,
            sync_type: SyncType::Init,
            reason: r.get(4)?,
            trigger: ucsync_core::Trigger::OnDemand,
            requested_by: r.get(6)?,
            state: JobState::Queued,
            progress: Progress::new(),
            counts: JobCounts::default(),
            error: r.get(10)?,
            created_at: r.get(11)?,
            started_at: r.get(12)?,
            finished_at: r.get(13)?,
            node: r.get(14)?,
        },
        [r.get(2)?, r.get(3)?, r.get(5)?, r.get(7)?],
        r.get(8)?,
        r.get(9)?,
    ))
}

fn finish_job((mut j, [requested, ty, trigger, state], progress, counts): JobRow) -> Result<Job> {
    j.requested = parse(requested)?;
    j.sync_type = parse(ty)?;
    j.trigger = parse(trigger)?;
    j.state = parse(state)?;
    j.progress =
        serde_json::from_str(&progress).map_err(|e| StoreError::Database(e.to_string()))?;
    j.counts = serde_json::from_str(&counts).map_err(|e| StoreError::Database(e.to_string()))?;
    Ok(j)
}

fn load_job(c: &Connection, id: JobId) -> Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
    c.prepare_cached(&sql)
        .map_err(db)?
        .query_row([id], job_row)
        .optional()
        .map_err(db)?
        .map(finish_job)
        .transpose()
}

/// The states in which a job holds its element. Queries say it in these
/// very words, which is what lets SQLite use the partial indexes on them.
const ACTIVE: &str = "state IN ('waiting', 'running', 'stopping')";

fn active_job_sql() -> String {
    format!("SELECT {JOB_COLUMNS} FROM jobs WHERE element = ?1 AND {ACTIVE}")
}

/// A page of jobs, newest first, of one element and in one state if asked.
/// One statement per filter: with `?1 IS NULL OR element = ?1` no index
/// applied, and a page of one element's jobs read the table backwards
/// through every other element's jobs.
fn jobs_sql(element: bool, state: bool) -> String {
    let filter = match (element, state) {
        (false, false) => "",
        (true, false) => "WHERE element = ?1",
        (false, true) => "WHERE state = ?2",
        (true, true) => "WHERE element = ?1 AND state = ?2",
    };
    format!("SELECT {JOB_COLUMNS} FROM jobs {filter} ORDER BY id DESC LIMIT ?3 OFFSET ?4")
}

/// The newest finished job of each element (`?1`: of that one only).
fn last_finished_sql() -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM (SELECT *, row_number() OVER \
         (PARTITION BY element ORDER BY finished_at DESC, id DESC) AS newest FROM jobs \
         WHERE state IN ('succeeded', 'failed', 'stopped') AND started_at IS NOT NULL \
         AND (?1 IS NULL OR element = ?1)) WHERE newest = 1 ORDER BY element"
    )
}

fn queued_jobs_sql() -> String {
    format!("SELECT {JOB_COLUMNS} FROM jobs WHERE element = ?1 AND state = 'queued' ORDER BY id")
}

/// The oldest queued job whose element holds no job. The oldest queued job
/// of an element is also the oldest of those of its element, so "no older
/// queued job on the element" needs no test of its own.
const CLAIM_SQL: &str = "SELECT id FROM jobs j WHERE state = 'queued' \
     AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.element = j.element AND r.state IN ('waiting', 'running', 'stopping')) \
     ORDER BY id LIMIT 1";

/// The nodes with their open jobs.
const NODES_SQL: &str = "SELECT n.name, n.version, n.started_at, n.heartbeat_at, n.alive_until, n.http, n.syslog, \
     (SELECT count(*) FROM jobs j WHERE j.node = n.name AND j.state IN ('waiting', 'running', 'stopping')) \
     FROM nodes n ORDER BY n.name";

/// Inits holding a place in the pool: reading, or stopping after they read
/// (a job stopped while it waited never had `started_at`).
const INIT_PLACES_SQL: &str = "SELECT count(*) FROM jobs WHERE state IN ('running', 'stopping') \
     AND started_at IS NOT NULL AND type <> 'incremental' AND id <> ?1";

const TOKEN_COLUMNS: &str = "id, name, role, created_at, last_used_at";

/// How often a token's use is recorded. Every API request looks its token
/// up; a write each time queued every request behind SQLite's one writer.
const TOKEN_USE_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

fn token_by_hash(c: &Connection, hash: &[u8; 32]) -> Result<Option<Token>> {
    c.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE secret_hash = ?1"
    ))
    .map_err(db)?
    .query_row([&hash[..]], token_row)
    .optional()
    .map_err(db)?
    .map(finish_token)
    .transpose()
}

fn token_row(r: &Row) -> rusqlite::Result<(Token, String)> {
    Ok((
        Token {
            id: r.get(0)?,
            name: r.get(1)?,
            role: Role::ReadOnly,
            created_at: r.get(3)?,
            last_used_at: r.get(4)?,
        },
        r.get(2)?,
    ))
}

fn finish_token((mut t, role): (Token, String)) -> Result<Token> {
    t.role = parse(role)?;
    Ok(t)
}

const SCHEDULE_COLUMNS: &str = "id, name, default_for, spec, last_fired, next_due, created_at";

fn schedule_row(r: &Row) -> rusqlite::Result<(ScheduleRecord, String)> {
    Ok((
        ScheduleRecord {
            id: r.get(0)?,
            name: r.get(1)?,
            default_for: r.get(2)?,
            spec: serde_json::Value::Null,
            last_fired: r.get(4)?,
            next_due: r.get(5)?,
            created_at: r.get(6)?,
        },
        r.get(3)?,
    ))
}

fn finish_schedule((mut s, spec): (ScheduleRecord, String)) -> Result<ScheduleRecord> {
    s.spec = serde_json::from_str(&spec)
        .map_err(|e| StoreError::Database(format!("schedule specification: {e}")))?;
    Ok(s)
}

fn load_schedule(c: &Connection, id: ScheduleId) -> Result<Option<ScheduleRecord>> {
    let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = ?1");
    c.query_row(&sql, [id], schedule_row)
        .optional()
        .map_err(db)?
        .map(finish_schedule)
        .transpose()
}

fn op_name(op: PlanOp) -> &'static str {
    match op {
        PlanOp::Add => "add",
        PlanOp::Change => "change",
        PlanOp::Delete => "delete",
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn add_element(&self, e: NewElement) -> Result<Element> {
        let name = e.name.to_string();
        self.write(move |c, secret| {
            let tx = c.transaction().map_err(db)?;
            let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM elements WHERE name = ?1)", [e.name.as_str()], |r| r.get(0)).map_err(db)?;
            if exists {
                return Err(StoreError::Exists(e.name.to_string()));
            }
            tx.execute(
                "INSERT INTO elements (name, kind, host, alternate_host, port, login, password_enc, settings, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    e.name.as_str(),
                    e.kind.as_str(),
                    e.host,
                    e.alternate_host,
                    e.port as i64,
                    e.login,
                    secret.encrypt(&e.password),
                    serde_json::to_string(&e.settings).expect("settings serialize"),
                    now()
                ],
            )
            .map_err(db)?;
            tx.execute("INSERT INTO sync_state (element_id) VALUES (last_insert_rowid())", []).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(())
        })
        .await?;
        self.element(&name)
            .await?
            .ok_or(StoreError::NoElement(name))
    }

    async fn element(&self, name: &str) -> Result<Option<Element>> {
        let name = name.to_string();
        self.read(move |c, _| load_element(c, &name)).await
    }

    async fn elements(&self) -> Result<Vec<Element>> {
        self.read(|c, _| {
            let sql = format!("SELECT {ELEMENT_COLUMNS} FROM elements e LEFT JOIN sync_state s ON s.element_id = e.id ORDER BY e.name");
            let mut st = c.prepare(&sql).map_err(db)?;
            let rows = st.query_map([], element_row).map_err(db)?;
            rows.map(|r| r.map_err(db).and_then(finish_element)).collect()
        })
        .await
    }

    async fn element_password(&self, name: &str) -> Result<String> {
        let name = name.to_string();
        self.read(move |c, secret| {
            let enc: Option<String> = c
                .query_row(
                    "SELECT password_enc FROM elements WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            let enc = enc.ok_or_else(|| StoreError::NoElement(name.clone()))?;
            Ok(secret.decrypt(&enc)?)
        })
        .await
    }

    async fn remove_element(&self, name: &str) -> Result<bool> {
        let name = name.to_string();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let id: Option<i64> = tx
                .query_row("SELECT id FROM elements WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)?;
            let Some(id) = id else { return Ok(false) };
            tx.execute(
                "DELETE FROM staged WHERE job_id IN (SELECT id FROM jobs WHERE element_id = ?1)",
                [id],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM schedules WHERE default_for = ?1", [&name])
                .map_err(db)?;
            tx.execute(
                "UPDATE jobs SET state = 'stopped', error = 'element removed', finished_at = ?2 \
                 WHERE element_id = ?1 AND state = 'queued'",
                params![id, now()],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM elements WHERE id = ?1", [id])
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn object_hashes(&self, element: ElementId) -> Result<HashIndex> {
        // Digest ranges on several reader connections at once; each comes
        // back in digest order, so the parts joined in order are sorted.
        let n = load_parts();
        let parts = (0..n).map(|i| {
            let (lo, hi) = digest_range(i, n);
            self.read(move |c, _| {
                let mut out = HashIndexBuilder::default();
                let mut st = c
                    .prepare_cached(
                        "SELECT digest, hash, object_type FROM objects INDEXED BY objects_digests \
                         WHERE element_id = ?1 AND digest >= ?2 AND (?3 IS NULL OR digest < ?3) ORDER BY digest",
                    )
                    .map_err(db)?;
                let mut rows = st.query(params![element, &lo[..], hi.as_ref().map(|h| &h[..])]).map_err(db)?;
                while let Some(r) = rows.next().map_err(db)? {
                    let digest = blob16(r, 0, "digest")?;
                    let hash = blob16(r, 1, "hash")?;
                    let t = r.get_ref(2).map_err(db)?.as_str().map_err(|e| StoreError::Database(e.to_string()))?;
                    out.push_digest(t, u128::from_be_bytes(digest), ContentHash(hash));
                }
                Ok(out)
            })
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
        self.read(move |c, _| {
            let wanted: std::collections::HashSet<u128> = digests.into_iter().collect();
            let mut st = c
                .prepare_cached("SELECT digest, object_type, object_key FROM objects INDEXED BY objects_digests WHERE element_id = ?1")
                .map_err(db)?;
            let mut rows = st.query([element]).map_err(db)?;
            let text = |e: rusqlite::types::FromSqlError| StoreError::Database(e.to_string());
            let mut out = Vec::with_capacity(wanted.len());
            while let Some(r) = rows.next().map_err(db)? {
                if wanted.contains(&u128::from_be_bytes(blob16(r, 0, "digest")?)) {
                    let t = r.get_ref(1).map_err(db)?.as_str().map_err(text)?;
                    let key = r.get_ref(2).map_err(db)?.as_str().map_err(text)?;
                    out.push(ObjectId::new(t, key));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn objects(&self, element: ElementId, q: &ObjectQuery) -> Result<Vec<StoredObject>> {
        let q = q.clone();
        self.read(move |c, _| {
            let mut st = c
                .prepare(
                    "SELECT object_type, object_key, fields, hash, updated_at FROM objects WHERE element_id = ?1 \
                     AND (?2 IS NULL OR object_type = ?2) AND (?3 IS NULL OR object_key = ?3) \
                     ORDER BY object_type, length(object_key), object_key LIMIT ?4 OFFSET ?5",
                )
                .map_err(db)?;
            let limit = if q.limit == 0 { i64::MAX } else { q.limit as i64 };
            let rows = st
                .query_map(params![element, q.object_type, q.key, limit, q.offset as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Vec<u8>>(3)?, r.get::<_, String>(4)?))
                })
                .map_err(db)?;
            rows.map(|r| {
                let (t, k, f, h, u) = r.map_err(db)?;
                Ok(StoredObject { id: ObjectId { object_type: t, key: k }, fields: fields_from(&f)?, hash: hash_from(h)?, updated_at: u })
            })
            .collect()
        })
        .await
    }

    async fn object_count(&self, element: ElementId) -> Result<u64> {
        self.read(move |c, _| {
            c.query_row(
                "SELECT count(*) FROM objects WHERE element_id = ?1",
                [element],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(db)
        })
        .await
    }

    async fn object_counts_by_type(&self, element: ElementId) -> Result<BTreeMap<String, u64>> {
        self.read(move |c, _| {
            // As in `counts`: a range of the primary key per type, never a
            // GROUP BY sorting the element's every object.
            let mut count = c
                .prepare_cached(
                    "SELECT count(*) FROM objects WHERE element_id = ?1 AND object_type = ?2",
                )
                .map_err(db)?;
            object_types(c, element)?
                .into_iter()
                .map(|ty| {
                    let n: i64 = count
                        .query_row(params![element, ty], |r| r.get(0))
                        .map_err(db)?;
                    Ok((ty, n as u64))
                })
                .collect()
        })
        .await
    }

    async fn stage(&self, job: JobId, batch: Vec<Staged>) -> Result<()> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            {
                let mut st = tx
                    .prepare_cached("INSERT OR REPLACE INTO staged (job_id, object_type, object_key, op, fields, hash, name, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .map_err(db)?;
                for s in &batch {
                    st.execute(params![job, s.id.object_type, s.id.key, op_name(s.op), fields_json(&s.fields), &s.hash.0[..], s.name, &id_digest(&s.id)[..]]).map_err(db)?;
                }
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn commit_init(
        &self,
        job: JobId,
        element: ElementId,
        deletes: &[ObjectId],
        outcome: &InitOutcome,
    ) -> Result<()> {
        let deletes = deletes.to_vec();
        let outcome = outcome.clone();
        self.write(move |c, _| {
            let at = now();
            let tx = c.transaction().map_err(db)?;
            tx.execute(
                "INSERT OR REPLACE INTO objects (element_id, object_type, object_key, fields, hash, name, updated_at, digest) \
                 SELECT ?1, object_type, object_key, fields, hash, name, ?3, digest FROM staged WHERE job_id = ?2 AND op != 'delete'",
                params![element, job, at],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO changes (element_id, job_id, object_type, object_key, op, at) SELECT ?1, ?2, object_type, object_key, op, ?3 FROM staged WHERE job_id = ?2",
                params![element, job, at],
            )
            .map_err(db)?;
            {
                let mut del = tx.prepare_cached("DELETE FROM objects WHERE element_id = ?1 AND object_type = ?2 AND object_key = ?3").map_err(db)?;
                let mut log = tx.prepare_cached("INSERT INTO changes (element_id, job_id, object_type, object_key, op, at) VALUES (?1, ?2, ?3, ?4, 'delete', ?5)").map_err(db)?;
                for id in &deletes {
                    del.execute(params![element, id.object_type, id.key]).map_err(db)?;
                    log.execute(params![element, job, id.object_type, id.key, at]).map_err(db)?;
                }
            }
            tx.execute("DELETE FROM staged WHERE job_id = ?1", [job]).map_err(db)?;
            tx.execute(
                "UPDATE sync_state SET last_init_at = ?2, last_init_ok = 1, last_init_error = NULL, version_at_init = ?3, format_at_init = ?4, \
                 sync_point = ?5, last_sync_at = ?2, last_success_at = ?2 WHERE element_id = ?1",
                params![element, at, outcome.version, outcome.format, outcome.sync_point],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn keep_proposal(&self, job: JobId, deletes: &[ObjectId]) -> Result<()> {
        let deletes = deletes.to_vec();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            {
                let mut st = tx.prepare_cached("INSERT OR REPLACE INTO staged (job_id, object_type, object_key, op, digest) VALUES (?1, ?2, ?3, 'delete', ?4)").map_err(db)?;
                for id in &deletes {
                    st.execute(params![job, id.object_type, id.key, &id_digest(id)[..]]).map_err(db)?;
                }
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn discard_staged(&self, job: JobId) -> Result<()> {
        self.write(move |c, _| {
            c.execute("DELETE FROM staged WHERE job_id = ?1", [job])
                .map(|_| ())
                .map_err(db)
        })
        .await
    }

    async fn record_init_failure(&self, element: ElementId, error: &str) -> Result<()> {
        let error = error.to_string();
        self.write(move |c, _| {
            c.execute(
                "UPDATE sync_state SET last_init_at = ?2, last_init_ok = 0, last_init_error = ?3, last_sync_at = ?2 WHERE element_id = ?1",
                params![element, now(), error],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    async fn forget_sync_point(&self, element: ElementId) -> Result<()> {
        self.write(move |c, _| {
            c.execute(
                "UPDATE sync_state SET sync_point = NULL WHERE element_id = ?1",
                params![element],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    async fn apply_changes(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
    ) -> Result<JobCounts> {
        self.apply(job, element, changes, sync_point, Vec::new())
            .await
    }

    async fn apply_notify(
        &self,
        element: ElementId,
        changes: Vec<Change>,
        row_keys: &[String],
    ) -> Result<JobCounts> {
        self.apply(None, element, changes, None, row_keys.to_vec())
            .await
    }

    async fn notified_rows(&self, element: ElementId) -> Result<Vec<String>> {
        self.read(move |c, _| {
            let mut st = c
                .prepare_cached(
                    "SELECT row_key FROM notify_applied WHERE element_id = ?1 ORDER BY id",
                )
                .map_err(db)?;
            st.query_map([element], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(db)
        })
        .await
    }

    async fn prune_notified_rows(&self, element: ElementId, before: DateTime<Utc>) -> Result<()> {
        let before = ts(before);
        self.write(move |c, _| {
            c.execute(
                "DELETE FROM notify_applied WHERE element_id = ?1 AND applied_at < ?2",
                params![element, before],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn record_notify_event(&self, element: ElementId, at: DateTime<Utc>) -> Result<()> {
        let at = ts(at);
        self.write(move |c, _| {
            c.execute("UPDATE sync_state SET last_notify_at = ?2 WHERE element_id = ?1 AND (last_notify_at IS NULL OR last_notify_at < ?2)", params![element, at])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn changes_page(
        &self,
        job: JobId,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)> {
        let (offset, limit) = (sql_count(offset), sql_count(limit));
        self.read(move |c, _| {
            let applied: i64 = c.query_row("SELECT count(*) FROM changes WHERE job_id = ?1", [job], |r| r.get(0)).map_err(db)?;
            if applied > 0 {
                let mut st = c.prepare_cached("SELECT object_type, object_key, op, by_login, at_element, at FROM changes WHERE job_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3").map_err(db)?;
                let page = st
                    .query_map(params![job, limit, offset], |r| {
                        Ok(ChangeRecord { object_type: r.get(0)?, key: r.get(1)?, op: r.get(2)?, by_login: r.get(3)?, at_element: r.get(4)?, at: r.get(5)?, applied: true })
                    })
                    .map_err(db)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(db)?;
                return Ok((page, applied.unsigned_abs()));
            }
            let at: Option<String> = c.query_row("SELECT coalesce(finished_at, created_at) FROM jobs WHERE id = ?1", [job], |r| r.get(0)).optional().map_err(db)?;
            let at = at.ok_or(StoreError::NoJob(job))?;
            let proposed: i64 = c.query_row("SELECT count(*) FROM staged WHERE job_id = ?1", [job], |r| r.get(0)).map_err(db)?;
            let mut st = c.prepare_cached("SELECT object_type, object_key, op FROM staged WHERE job_id = ?1 ORDER BY object_type, length(object_key), object_key LIMIT ?2 OFFSET ?3").map_err(db)?;
            let page = st
                .query_map(params![job, limit, offset], |r| Ok(ChangeRecord { object_type: r.get(0)?, key: r.get(1)?, op: r.get(2)?, by_login: None, at_element: None, at: at.clone(), applied: false }))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            Ok((page, proposed.unsigned_abs()))
        })
        .await
    }

    async fn create_job(
        &self,
        job: &NewJob,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<Job> {
        let job = job.clone();
        let reason = reason.map(str::to_string);
        let id = self
            .write(move |c, _| {
                c.execute(
                    "INSERT INTO jobs (element_id, element, requested, type, reason, trigger, requested_by, state, created_at) \
                     VALUES ((SELECT id FROM elements WHERE name = ?1), ?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7)",
                    params![job.element.as_str(), job.requested.as_str(), sync_type.as_str(), reason, job.trigger.as_str(), job.requested_by, now()],
                )
                .map_err(db)?;
                Ok(c.last_insert_rowid())
            })
            .await?;
        self.job(id).await?.ok_or(StoreError::NoJob(id))
    }

    async fn job(&self, id: JobId) -> Result<Option<Job>> {
        self.read(move |c, _| load_job(c, id)).await
    }

    async fn jobs(
        &self,
        element: Option<&str>,
        state: Option<JobState>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Job>> {
        let element = element.map(str::to_string);
        let sql = jobs_sql(element.is_some(), state.is_some());
        self.read(move |c, _| {
            let mut st = c.prepare_cached(&sql).map_err(db)?;
            let limit = if limit == 0 { i64::MAX } else { limit as i64 };
            let rows = st
                .query_map(
                    params![element, state.map(|s| s.as_str()), limit, offset as i64],
                    job_row,
                )
                .map_err(db)?;
            rows.map(|r| r.map_err(db).and_then(finish_job)).collect()
        })
        .await
    }

    async fn last_finished_jobs(&self, element: Option<&str>) -> Result<Vec<Job>> {
        let element = element.map(str::to_string);
        self.read(move |c, _| {
            let mut st = c.prepare_cached(&last_finished_sql()).map_err(db)?;
            let rows = st.query_map(params![element], job_row).map_err(db)?;
            rows.map(|r| r.map_err(db).and_then(finish_job)).collect()
        })
        .await
    }

    async fn set_job_state(&self, id: JobId, state: JobState, error: Option<&str>) -> Result<()> {
        let error = error.map(str::to_string);
        self.write(move |c, _| {
            let at = now();
            let n = c
                .execute(
                    "UPDATE jobs SET state = ?2, error = coalesce(?3, error), \
                     started_at = CASE WHEN ?2 = 'running' AND started_at IS NULL THEN ?4 ELSE started_at END, \
                     finished_at = CASE WHEN ?2 IN ('succeeded', 'failed', 'stopped') THEN ?4 ELSE finished_at END WHERE id = ?1",
                    params![id, state.as_str(), error, at],
                )
                .map_err(db)?;
            if n == 0 { Err(StoreError::NoJob(id)) } else { Ok(()) }
        })
        .await
    }

    async fn set_job_type(
        &self,
        id: JobId,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<()> {
        let reason = reason.map(str::to_string);
        self.write(move |c, _| {
            c.execute(
                "UPDATE jobs SET type = ?2, reason = ?3 WHERE id = ?1",
                params![id, sync_type.as_str(), reason],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    async fn set_job_progress(
        &self,
        id: JobId,
        progress: &Progress,
        counts: &JobCounts,
    ) -> Result<()> {
        let p = serde_json::to_string(progress).expect("progress serializes");
        let n = serde_json::to_string(counts).expect("counts serialize");
        self.write(move |c, _| {
            c.execute(
                "UPDATE jobs SET progress = ?2, counts = ?3 WHERE id = ?1",
                params![id, p, n],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    async fn job_log(&self, id: JobId, line: &str) -> Result<()> {
        let line = line.to_string();
        self.write(move |c, _| {
            c.execute("INSERT INTO job_log (job_id, seq, at, line) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM job_log WHERE job_id = ?1), ?2, ?3)", params![id, now(), line])
                .map(|_| ())
                .map_err(db)
        })
        .await
    }

    async fn job_log_lines(&self, id: JobId) -> Result<Vec<String>> {
        self.read(move |c, _| {
            let mut st = c
                .prepare("SELECT line FROM job_log WHERE job_id = ?1 ORDER BY seq")
                .map_err(db)?;
            st.query_map([id], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    async fn update_element(&self, name: &str, update: ElementUpdate) -> Result<Element> {
        let name = name.to_string();
        self.write(move |c, secret| {
            let tx = c.transaction().map_err(db)?;
            let e = load_element(&tx, &name)?.ok_or_else(|| StoreError::NoElement(name.clone()))?;
            let settings = update.settings.unwrap_or(e.settings);
            tx.execute(
                "UPDATE elements SET host = ?2, alternate_host = ?3, port = ?4, login = ?5, settings = ?6, \
                 password_enc = coalesce(?7, password_enc) WHERE id = ?1",
                params![
                    e.id,
                    update.host.unwrap_or(e.host),
                    update.alternate_host.unwrap_or(e.alternate_host),
                    update.port.unwrap_or(e.port) as i64,
                    update.login.unwrap_or(e.login),
                    serde_json::to_string(&settings).expect("settings serialize"),
                    update.password.map(|p| secret.encrypt(&p)),
                ],
            )
            .map_err(db)?;
            let e = load_element(&tx, &name)?.ok_or_else(|| StoreError::NoElement(name.clone()))?;
            tx.commit().map_err(db)?;
            Ok(e)
        })
        .await
    }

    async fn search(&self, text: &str, offset: u64, limit: u64) -> Result<Vec<SearchHit>> {
        let text = text.to_string();
        self.read_with(move |c, types, _| search(c, types, &text, offset, limit))
            .await
    }

    async fn counts(&self) -> Result<StoreCounts> {
        self.read(|c, _| {
            // Per element and type, each a range of the primary key: no
            // sorting of every object by its group, as GROUP BY would.
            let mut objects = Vec::new();
            let mut count = c
                .prepare_cached("SELECT count(*) FROM objects WHERE element_id = ?1 AND object_type = ?2")
                .map_err(db)?;
            for (id, element) in elements_by_name(c)? {
                for ty in object_types(c, id)? {
                    let n: i64 = count.query_row(params![id, ty], |r| r.get(0)).map_err(db)?;
                    objects.push((element.clone(), ty, n as u64));
                }
            }
            let mut st = c
                .prepare("SELECT type, state, count(*) FROM jobs GROUP BY type, state ORDER BY type, state")
                .map_err(db)?;
            let jobs = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
                .map_err(db)?
                .map(|r| {
                    let (t, s, n) = r.map_err(db)?;
                    Ok((parse(t)?, parse(s)?, n as u64))
                })
                .collect::<Result<_>>()?;
            Ok(StoreCounts { objects, jobs })
        })
        .await
    }

    async fn request_job(&self, job: &NewJob) -> Result<Requested> {
        let job = job.clone();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let element: Option<i64> = tx
                .query_row("SELECT id FROM elements WHERE name = ?1", [job.element.as_str()], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let element = element.ok_or_else(|| StoreError::NoElement(job.element.to_string()))?;
            // The running job first: joining it gives the answer soonest.
            // Two queries, each on an index of open jobs only, so that an
            // element's history of finished jobs is not read.
            let mut joinable = None;
            for sql in [active_job_sql(), queued_jobs_sql()] {
                let mut st = tx.prepare_cached(&sql).map_err(db)?;
                for r in st.query_map([job.element.as_str()], job_row).map_err(db)? {
                    let j = finish_job(r.map_err(db)?)?;
                    if j.state != JobState::Stopping && j.requested.strength() >= job.requested.strength() {
                        joinable = Some(j);
                        break;
                    }
                }
                if joinable.is_some() {
                    break;
                }
            }
            if let Some(j) = joinable {
                return Ok(Requested { job: j, joined: true });
            }
            tx.execute(
                "INSERT INTO jobs (element_id, element, requested, type, reason, trigger, requested_by, state, created_at) \
                 VALUES (?1, ?2, ?3, ?3, NULL, ?4, ?5, 'queued', ?6)",
                params![element, job.element.as_str(), job.requested.as_str(), job.trigger.as_str(), job.requested_by, now()],
            )
            .map_err(db)?;
            let id = tx.last_insert_rowid();
            let j = load_job(&tx, id)?.ok_or(StoreError::NoJob(id))?;
            tx.commit().map_err(db)?;
            Ok(Requested { job: j, joined: false })
        })
        .await
    }

    async fn claim_job(&self, node: &str, lease_until: DateTime<Utc>) -> Result<Option<Job>> {
        let node = node.to_string();
        let asked = Utc::now();
        self.write(move |c, _| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let lease_until = lease_until + (Utc::now() - asked);
            let id: Option<JobId> = tx
                .prepare_cached(CLAIM_SQL)
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE jobs SET state = CASE type WHEN 'incremental' THEN 'running' ELSE 'waiting' END, \
                   started_at = CASE type WHEN 'incremental' THEN ?2 END, node = ?3, lease_until = ?4 WHERE id = ?1",
                params![id, now(), node, ts(lease_until)],
            )
            .map_err(db)?;
            let j = load_job(&tx, id)?;
            tx.commit().map_err(db)?;
            Ok(j)
        })
        .await
    }

    async fn take_init_place(&self, id: JobId, pool: u32) -> Result<bool> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let taken: u32 = tx
                .prepare_cached(INIT_PLACES_SQL)
                .map_err(db)?
                .query_row([id], |r| r.get(0))
                .map_err(db)?;
            let free = taken < pool;
            let changed = if free {
                tx.execute(
                    "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, ?2) \
                     WHERE id = ?1 AND state IN ('waiting', 'running')",
                    params![id, now()],
                )
            } else {
                tx.execute(
                    "UPDATE jobs SET state = 'waiting', started_at = NULL \
                     WHERE id = ?1 AND state IN ('waiting', 'running')",
                    [id],
                )
            }
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(free && changed == 1)
        })
        .await
    }

    async fn join_node(
        &self,
        node: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let (node, holder) = (node.to_string(), holder.to_string());
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let alive: Option<String> = tx
                .query_row(
                    "SELECT holder FROM nodes WHERE name = ?1 AND alive_until >= ?2",
                    params![node, ts(now)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if alive.is_none() {
                tx.execute(
                    "INSERT INTO nodes (name, holder, alive_until) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, alive_until = excluded.alive_until",
                    params![node, holder, ts(until)],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(alive)
        })
        .await
    }

    async fn describe_node(&self, node: &str, info: &NodeInfo, until: DateTime<Utc>) -> Result<()> {
        let (node, info) = (node.to_string(), info.clone());
        self.write(move |c, _| {
            let at = now();
            c.execute(
                "INSERT INTO nodes (name, holder, alive_until, version, started_at, heartbeat_at, http, syslog) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) \
                 ON CONFLICT (name) DO UPDATE SET alive_until = excluded.alive_until, version = excluded.version, \
                   started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, \
                   http = excluded.http, syslog = excluded.syslog",
                params![node, format!("ucsync {}", info.version), ts(until), info.version, at, info.http, info.syslog],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    async fn nodes(&self) -> Result<Vec<NodeRecord>> {
        self.read(|c, _| {
            let mut st = c.prepare_cached(NODES_SQL).map_err(db)?;
            let rows = st
                .query_map([], |r| {
                    Ok(NodeRecord {
                        name: r.get(0)?,
                        version: r.get(1)?,
                        started_at: r.get(2)?,
                        heartbeat_at: r.get(3)?,
                        alive_until: r.get(4)?,
                        http: r.get(5)?,
                        syslog: r.get(6)?,
                        jobs: r.get::<_, i64>(7)?.max(0).unsigned_abs(),
                    })
                })
                .map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)
        })
        .await
    }

    async fn leave_node(&self, node: &str) -> Result<()> {
        let node = node.to_string();
        self.write(move |c, _| {
            c.execute("DELETE FROM nodes WHERE name = ?1", params![node])
                .map(|_| ())
                .map_err(db)
        })
        .await
    }

    async fn renew_leases(&self, node: &str, lease_until: DateTime<Utc>) -> Result<Vec<JobId>> {
        let node = node.to_string();
        let asked = Utc::now();
        self.write(move |c, _| {
            // The write lock first, then the lease's end: the time spent
            // waiting for the writer does not shorten the lease.
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let lease_until = lease_until + (Utc::now() - asked);
            tx.execute(
                &format!("UPDATE jobs SET lease_until = ?2 WHERE node = ?1 AND {ACTIVE}"),
                params![node, ts(lease_until)],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE nodes SET alive_until = ?2, heartbeat_at = ?3 WHERE name = ?1",
                params![node, ts(lease_until), now()],
            )
            .map_err(db)?;
            let stopping = tx
                .prepare(&format!("SELECT id FROM jobs WHERE node = ?1 AND {ACTIVE} AND state = 'stopping' ORDER BY id"))
                .map_err(db)?
                .query_map([&node], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(stopping)
        })
        .await
    }

    async fn fail_interrupted(&self, node: Option<&str>, now: DateTime<Utc>) -> Result<Vec<JobId>> {
        let node = node.map(str::to_string);
        self.write(move |c, _| {
            let at = ts(now);
            let tx = c.transaction().map_err(db)?;
            let gone: Vec<(JobId, Option<String>, Option<String>)> = tx
                .prepare(&format!(
                    "SELECT id, node, lease_until FROM jobs WHERE {ACTIVE} AND (lease_until < ?1 OR node = ?2) ORDER BY id"
                ))
                .map_err(db)?
                .query_map(params![at, node], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            for (id, owner, lease) in &gone {
                let restarted = owner.is_some() && *owner == node;
                let owner = owner.as_deref().unwrap_or("?");
                let line = if restarted {
                    format!("failed: interrupted (node {owner} restarted while it ran)")
                } else {
                    format!(
                        "failed: interrupted (node {owner} stopped renewing its lease, which ended at {})",
                        lease.as_deref().unwrap_or("?")
                    )
                };
                tx.execute(
                    "INSERT INTO job_log (job_id, seq, at, line) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM job_log WHERE job_id = ?1), ?2, ?3)",
                    params![id, at, line],
                )
                .map_err(db)?;
                tx.execute("DELETE FROM staged WHERE job_id = ?1", [id]).map_err(db)?;
                tx.execute(
                    "UPDATE jobs SET state = 'failed', error = 'interrupted', finished_at = ?2 WHERE id = ?1",
                    params![id, at],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(gone.into_iter().map(|(id, ..)| id).collect())
        })
        .await
    }

    async fn stop_job(&self, id: JobId) -> Result<Option<Job>> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let Some(j) = load_job(&tx, id)? else { return Ok(None) };
            match j.state {
                JobState::Queued => {
                    tx.execute(
                        "UPDATE jobs SET state = 'stopped', error = 'stopped before it started', finished_at = ?2 WHERE id = ?1",
                        params![id, now()],
                    )
                    .map_err(db)?;
                }
                JobState::Waiting | JobState::Running => {
                    tx.execute("UPDATE jobs SET state = 'stopping' WHERE id = ?1", [id]).map_err(db)?;
                }
                _ => return Ok(Some(j)),
            }
            let j = load_job(&tx, id)?;
            tx.commit().map_err(db)?;
            Ok(j)
        })
        .await
    }

    async fn create_token(&self, name: &str, role: Role, secret_hash: &[u8; 32]) -> Result<Token> {
        let name = name.to_string();
        let hash = *secret_hash;
        self.write(move |c, _| {
            c.query_row(
                &format!("INSERT INTO tokens (name, role, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING {TOKEN_COLUMNS}"),
                params![name, role.as_str(), &hash[..], now()],
                token_row,
            )
            .map_err(db)
            .and_then(finish_token)
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<Token>> {
        self.read(|c, _| {
            let mut st = c
                .prepare(&format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY id"))
                .map_err(db)?;
            st.query_map([], token_row)
                .map_err(db)?
                .map(|r| r.map_err(db).and_then(finish_token))
                .collect()
        })
        .await
    }

    async fn token_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<Token>> {
        let hash = *secret_hash;
        let found = self.read(move |c, _| token_by_hash(c, &hash)).await?;
        let at = Utc::now();
        let stale = ts(at - TOKEN_USE_EVERY);
        match found {
            Some(t) if t.last_used_at.as_deref().is_none_or(|u| u < stale.as_str()) => {
                self.write(move |c, _| {
                    c.prepare_cached(
                        "UPDATE tokens SET last_used_at = ?2 WHERE secret_hash = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)",
                    )
                    .map_err(db)?
                    .execute(params![&hash[..], ts(at), stale])
                    .map_err(db)?;
                    // Read again: another request may have recorded the use
                    // first, or the token may have been deleted since.
                    token_by_hash(c, &hash)
                })
                .await
            }
            other => Ok(other),
        }
    }

    async fn delete_token(&self, id: i64) -> Result<TokenRemoval> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let role: Option<String> = tx
                .query_row("SELECT role FROM tokens WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let admin = Role::Admin.as_str();
            let out = match role {
                None => TokenRemoval::NoToken,
                Some(r)
                    if r == admin
                        && tx
                            .query_row(
                                "SELECT count(*) FROM tokens WHERE role = ?1",
                                [admin],
                                |r| r.get::<_, i64>(0),
                            )
                            .map_err(db)?
                            <= 1 =>
                {
                    TokenRemoval::LastAdmin
                }
                Some(_) => {
                    tx.execute("DELETE FROM tokens WHERE id = ?1", [id])
                        .map_err(db)?;
                    TokenRemoval::Removed
                }
            };
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn add_schedule(&self, s: &NewSchedule) -> Result<ScheduleRecord> {
        let s = s.clone();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            if let Some(element) = &s.default_for {
                let known: bool = tx
                    .query_row("SELECT EXISTS(SELECT 1 FROM elements WHERE name = ?1)", [element.as_str()], |r| r.get(0))
                    .map_err(db)?;
                if !known {
                    return Err(StoreError::NoElement(element.to_string()));
                }
                let taken: bool = tx
                    .query_row("SELECT EXISTS(SELECT 1 FROM schedules WHERE default_for = ?1)", [element.as_str()], |r| r.get(0))
                    .map_err(db)?;
                if taken {
                    return Err(StoreError::DefaultExists(element.to_string()));
                }
            }
            tx.execute(
                "INSERT INTO schedules (name, default_for, spec, next_due, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.name, s.default_for.as_ref().map(|e| e.as_str()), s.spec.to_string(), s.next_due, now()],
            )
            .map_err(db)?;
            let id = tx.last_insert_rowid();
            let out = load_schedule(&tx, id)?.ok_or(StoreError::NoSchedule(id))?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        self.read(|c, _| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY id"
                ))
                .map_err(db)?;
            st.query_map([], schedule_row)
                .map_err(db)?
                .map(|r| r.map_err(db).and_then(finish_schedule))
                .collect()
        })
        .await
    }

    async fn schedule(&self, id: ScheduleId) -> Result<Option<ScheduleRecord>> {
        self.read(move |c, _| load_schedule(c, id)).await
    }

    async fn update_schedule(
        &self,
        id: ScheduleId,
        name: &str,
        spec: &serde_json::Value,
        next_due: Option<&str>,
    ) -> Result<ScheduleRecord> {
        let name = name.to_string();
        let spec = spec.to_string();
        let next_due = next_due.map(str::to_string);
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let n = tx
                .execute(
                    "UPDATE schedules SET name = ?2, spec = ?3, next_due = ?4 WHERE id = ?1",
                    params![id, name, spec, next_due],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::NoSchedule(id));
            }
            let out = load_schedule(&tx, id)?.ok_or(StoreError::NoSchedule(id))?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn delete_schedule(&self, id: ScheduleId) -> Result<bool> {
        self.write(move |c, _| {
            c.execute("DELETE FROM schedules WHERE id = ?1", [id])
                .map(|n| n > 0)
                .map_err(db)
        })
        .await
    }

    async fn schedule_fired(
        &self,
        id: ScheduleId,
        expected_due: Option<&str>,
        last_fired: Option<&str>,
        next_due: Option<&str>,
    ) -> Result<bool> {
        let expected = expected_due.map(str::to_string);
        let last_fired = last_fired.map(str::to_string);
        let next_due = next_due.map(str::to_string);
        self.write(move |c, _| {
            c.execute(
                "UPDATE schedules SET last_fired = ?3, next_due = ?4 WHERE id = ?1 AND next_due IS ?2",
                params![id, expected, last_fired, next_due],
            )
            .map(|n| n == 1)
            .map_err(db)
        })
        .await
    }
}

/// Below this many objects whose key (or whose name) matches, a search finds
/// every match by index and sorts them; from it on, matches are common enough
/// that reading objects in the order shown soon fills a page.
const SPARSE: i64 = 10_000;

/// From this many matching keys of a text without letters, search reads
/// each element's and type's range of matching keys in order (a few seeks
/// per element, its types remembered) rather than sorting every match.
const KEY_RUNS: i64 = 2_000;

/// `column` starts with `?1`, whatever the (ASCII) case: a range on
/// `lower(column)`, which an index on that expression answers, where LIKE
/// would read every row (and take `%` and `_` for wildcards).
fn prefix(column: &str) -> String {
    format!("lower({column}) >= lower(?1) AND lower({column}) < lower(?1) || char(1114111)")
}

/// A row when more than `?2` objects' `column` starts with the text: the
/// index is walked to that match and no further. Stepping over an OFFSET
/// costs about half of counting rows through a subquery.
fn many_sql(column: &str) -> String {
    format!(
        "SELECT 1 FROM objects WHERE {} LIMIT 1 OFFSET ?2",
        prefix(column)
    )
}

/// The first `?2` objects, in the order shown, whose `column` starts with
/// the text: every match from the column's prefix index, of which SQLite's
/// sort keeps only those first ones. Keys and names are asked apart and
/// merged: a UNION of the two sorted and deduplicated every match first,
/// three to five times the work.
fn sparse_sql(column: &str) -> String {
    format!(
        "SELECT e.name, o.element_id, o.object_type, o.object_key FROM objects o \
         JOIN elements e ON e.id = o.element_id WHERE {} \
         ORDER BY e.name, o.object_type, o.object_key LIMIT ?2",
        prefix(&format!("o.{column}"))
    )
}

fn names_sql() -> String {
    format!(
        "SELECT e.name, o.element_id, o.object_type, o.object_key FROM objects o \
         JOIN elements e ON e.id = o.element_id WHERE {}",
        prefix("o.name")
    )
}

/// Objects in the order shown (elements by name, each in its objects'
/// order), filtered, from the narrow `objects_listing` index; the `+` keeps
/// the planner from the prefix indexes, whose order is not the one shown.
/// The filter is `LIKE` with the escaped text (`?4`, see [`like_prefix`]):
/// it folds ASCII case as `lower` does, but compares in place, where `lower`
/// copied the key and the name of every row read.
fn scan_sql() -> String {
    "SELECT e.name, o.element_id, o.object_type, o.object_key \
     FROM elements e CROSS JOIN objects o INDEXED BY objects_listing ON o.element_id = e.id \
     WHERE +o.object_key LIKE ?4 ESCAPE '\\' OR +o.name LIKE ?4 ESCAPE '\\' \
     ORDER BY e.name, o.object_type, o.object_key LIMIT ?2 OFFSET ?3"
        .to_string()
}

/// The `LIKE` pattern of "starts with `text`": its wildcards taken literally.
fn like_prefix(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 1);
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The object types of an element, one index seek each.
const TYPES_SQL: &str = "WITH RECURSIVE t(ty) AS ( \
     SELECT (SELECT min(object_type) FROM objects WHERE element_id = ?1) \
     UNION ALL \
     SELECT (SELECT min(object_type) FROM objects WHERE element_id = ?1 AND object_type > t.ty) FROM t WHERE t.ty IS NOT NULL) \
     SELECT ty FROM t WHERE ty IS NOT NULL";

fn elements_by_name(c: &Connection) -> Result<Vec<(ElementId, String)>> {
    c.prepare_cached("SELECT id, name FROM elements ORDER BY name")
        .map_err(db)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

fn object_types(c: &Connection, element: ElementId) -> Result<Vec<String>> {
    c.prepare_cached(TYPES_SQL)
        .map_err(db)?
        .query_map([element], |r| r.get(0))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

/// Keys of one element and type that start with `?3` exactly, in key order.
const KEY_RUN_SQL: &str = "SELECT object_key FROM objects WHERE element_id = ?1 AND object_type = ?2 \
     AND object_key >= ?3 AND object_key < ?3 || char(1114111) ORDER BY object_key LIMIT ?4";

/// A search hit before its row is read: element name and id, type, key.
/// Tuples of these sort in the order search shows them.
type Hit = (String, i64, String, String);

fn hits(c: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Hit>> {
    c.prepare_cached(sql)
        .map_err(db)?
        .query_map(p, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)
}

/// Objects whose key or name starts with `text`, whatever the case (ASCII,
/// as SQLite's `lower` folds), in the order of element name, type and key.
///
/// No one index gives both the matches and their order, so the plan depends
/// on how many objects match, told by the indexes (whether there are
/// [`SPARSE`]): few → the first of them by index, sorted; many keys but few
/// names, and a text
/// without letters (keys like extensions) → each element's and type's keys
/// in order from the primary key, merged with the names; otherwise →
/// objects in order, filtered, which stops as soon as a page is full.
fn search(
    c: &Connection,
    types: &mut TypeCache,
    text: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<SearchHit>> {
    let limit = if limit == 0 {
        i64::MAX
    } else {
        limit.min(i64::MAX as u64) as i64
    };
    let offset = offset.min(i64::MAX as u64) as i64;
    let many = |column, n: i64| -> Result<bool> {
        c.prepare_cached(&many_sql(column))
            .map_err(db)?
            .query_row(params![text, n - 1], |_| Ok(()))
            .optional()
            .map(|row| row.is_some())
            .map_err(db)
    };
    let letters = text.bytes().any(|b| b.is_ascii_alphabetic());
    let many_keys = many("object_key", if letters { SPARSE } else { KEY_RUNS })?;
    let many_names = many("name", SPARSE)?;
    let page = if !many_keys && !many_names {
        let need = offset.saturating_add(limit);
        let mut both = Vec::new();
        for column in ["object_key", "name"] {
            both.extend(hits(c, &sparse_sql(column), params![text, need])?);
        }
        both.sort_unstable();
        both.dedup();
        both.into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect()
    } else if !many_names && !letters {
        keys_in_order(c, types, text, offset, limit)?
    } else {
        hits(
            c,
            &scan_sql(),
            params![text, limit, offset, like_prefix(text)],
        )?
    };
    let mut row = c
        .prepare_cached(
            "SELECT fields, hash, updated_at, name FROM objects WHERE element_id = ?1 AND object_type = ?2 AND object_key = ?3",
        )
        .map_err(db)?;
    page.into_iter()
        .map(|(element, element_id, object_type, key)| {
            let columns = row
                .query_row(params![element_id, object_type, key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(db)?;
            search_hit(element, object_type, key, columns)
        })
        .collect()
}

/// A search hit from its element, type, key and the row's fields, hash,
/// time of change and name.
fn search_hit(
    element: String,
    object_type: String,
    key: String,
    (fields, hash, updated_at, name): (String, Vec<u8>, String, Option<String>),
) -> Result<SearchHit> {
    Ok(SearchHit {
        element,
        object: StoredObject {
            id: ObjectId { object_type, key },
            fields: fields_from(&fields)?,
            hash: hash_from(hash)?,
            updated_at,
        },
        name,
    })
}

/// Many keys match, few names, and the text has no letters, so that a key
/// matches exactly when it starts with the text: each element's and type's
/// matching keys are one range of the primary key, already in order.
fn keys_in_order(
    c: &Connection,
    types: &mut TypeCache,
    text: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Hit>> {
    types.check(c)?;
    let need = offset.saturating_add(limit) as usize;
    let mut names = hits(c, &names_sql(), [text])?;
    names.sort_unstable();
    let mut names = names.into_iter().peekable();
    let mut run = c.prepare_cached(KEY_RUN_SQL).map_err(db)?;
    let mut out: Vec<Hit> = Vec::new();
    'elements: for (id, element) in elements_by_name(c)? {
        for ty in types.of(c, id)? {
            let want = (need - out.len()).min(i64::MAX as usize) as i64;
            let keys: Vec<String> = run
                .query_map(params![id, ty, text, want], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            let mut named = Vec::new();
            while let Some(n) = names.next_if(|n| n.1 == id && n.2 == *ty) {
                named.push(n.3);
            }
            let mut merged: Vec<String> = keys.into_iter().chain(named).collect();
            merged.sort_unstable();
            merged.dedup();
            out.extend(
                merged
                    .into_iter()
                    .map(|k| (element.clone(), id, ty.clone(), k)),
            );
            if out.len() >= need {
                break 'elements;
            }
        }
    }
    out.truncate(need);
    Ok(out.into_iter().skip(offset as usize).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column of `explain` `sql`, with its text parameter `?1` and numbers
    /// for the rest.
    fn explained(c: &Connection, explain: &str, sql: &str, column: usize) -> Vec<String> {
        let mut st = c.prepare(&format!("{explain} {sql}")).unwrap();
        let values = (1..=st.parameter_count()).map(|i| {
            if i == 1 {
                rusqlite::types::Value::Text("ab".into())
            } else {
                rusqlite::types::Value::Integer(50)
            }
        });
        st.query_map(rusqlite::params_from_iter(values), |r| r.get(column))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn plan(c: &Connection, sql: &str) -> String {
        explained(c, "EXPLAIN QUERY PLAN", sql, 3).join("\n")
    }

    /// How many b-trees the program of `sql` reads.
    fn opened(c: &Connection, sql: &str) -> usize {
        let ops = explained(c, "EXPLAIN", sql, 1);
        ops.iter().filter(|op| *op == "OpenRead").count()
    }

    /// Search reads what it needs through the indexes meant for it: counts
    /// and the sparse plan from the prefix indexes alone, the ordered plans
    /// in the order shown, with nothing sorted.
    #[test]
    fn search_plans_use_the_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let key_count = plan(&c, &many_sql("object_key"));
        assert!(
            key_count.contains("COVERING INDEX objects_search_key"),
            "{key_count}"
        );
        let name_count = plan(&c, &many_sql("name"));
        assert!(
            name_count.contains("COVERING INDEX objects_search_name"),
            "{name_count}"
        );
        // "Covering" in the plan is not enough: with an index on lower(name)
        // alone, SQLite still looked up each row. One b-tree, the index, is.
        for column in ["object_key", "name"] {
            assert_eq!(opened(&c, &many_sql(column)), 1, "{column}");
        }
        for (column, index) in [
            ("object_key", "COVERING INDEX objects_search_key"),
            ("name", "COVERING INDEX objects_search_name"),
        ] {
            let sparse = plan(&c, &sparse_sql(column));
            assert!(sparse.contains(index), "{sparse}");
            assert!(!sparse.contains("SCAN o"), "{sparse}");
        }
        let scan = plan(&c, &scan_sql());
        assert!(!scan.contains("TEMP B-TREE"), "{scan}");
        assert!(
            scan.contains("SEARCH o USING COVERING INDEX objects_listing (element_id=?)"),
            "{scan}"
        );
        // The scan reads the narrow index alone, never the rows' fields.
        assert_eq!(opened(&c, &scan_sql()), 2, "elements and the listing");
        let names = plan(&c, &names_sql());
        assert!(
            names.contains("COVERING INDEX objects_search_name"),
            "{names}"
        );
        // A range of keys in order, from the narrow listing index.
        let run = plan(&c, KEY_RUN_SQL);
        assert!(
            run.contains(
                "COVERING INDEX objects_listing (element_id=? AND object_type=? AND object_key>? AND object_key<?)"
            ),
            "{run}"
        );
        assert!(!run.contains("TEMP B-TREE"), "{run}");
    }

    /// The queue's queries read open jobs only, never an element's history.
    #[test]
    fn queue_plans_use_the_indexes_of_open_jobs() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let active = plan(&c, &active_job_sql());
        assert!(
            active.contains("INDEX jobs_one_running (element=?)"),
            "{active}"
        );
        let queued = plan(&c, &queued_jobs_sql());
        assert!(queued.contains("INDEX jobs_queued (element=?)"), "{queued}");
        assert!(!queued.contains("TEMP B-TREE"), "{queued}");
        let claim = plan(&c, CLAIM_SQL);
        assert!(claim.contains("INDEX jobs_by_state (state=?)"), "{claim}");
        assert!(
            claim.contains("INDEX jobs_one_running (element=?)"),
            "{claim}"
        );
        assert!(!claim.contains("TEMP B-TREE"), "{claim}");
    }

    /// A page of jobs reads its filter's index newest first, sorting nothing.
    #[test]
    fn job_pages_use_the_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        for (element, state, index) in [
            (false, false, "SCAN jobs"),
            (true, false, "INDEX jobs_by_element (element=?)"),
            (false, true, "INDEX jobs_by_state (state=?)"),
        ] {
            let p = plan(&c, &jobs_sql(element, state));
            assert!(p.contains(index), "{p}");
            assert!(!p.contains("TEMP B-TREE"), "{p}");
        }
    }

    /// A cached statement is used again as it is, whatever its bindings:
    /// none of search's statements is compiled again per call.
    #[test]
    fn cached_statements_are_not_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        migrate(&mut connect(&path).unwrap()).unwrap();
        let c = connect(&path).unwrap();
        use rusqlite::types::Value::{Integer as N, Text as T};
        // Each statement with the kinds of its parameters: a number (N) or a
        // text (T), changing from call to call.
        for (sql, kinds) in [
            (TYPES_SQL.to_string(), "N"),
            (KEY_RUN_SQL.to_string(), "NTTN"),
            (many_sql("name"), "TN"),
            (sparse_sql("object_key"), "TN"),
            (scan_sql(), "TNNT"),
        ] {
            for round in 0..3i64 {
                let mut st = c.prepare_cached(&sql).unwrap();
                let values = kinds.chars().map(|k| match k {
                    'N' => N(round + 1),
                    _ => T(format!("{round}a")),
                });
                let mut rows = st.query(rusqlite::params_from_iter(values)).unwrap();
                while rows.next().unwrap().is_some() {}
                drop(rows);
                let again = st.get_status(rusqlite::StatementStatus::RePrepare);
                assert_eq!(again, 0, "{sql}");
            }
        }
    }

    /// A token's use is written when the recorded one is a minute old, not
    /// at every lookup.
    #[tokio::test]
    async fn token_use_is_recorded_once_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db"), SecretKey::generate())
            .await
            .unwrap();
        s.create_token("ops", Role::Admin, &[1; 32]).await.unwrap();
        let first = s.token_by_hash(&[1; 32]).await.unwrap().unwrap();
        let used = first.last_used_at.clone().unwrap();
        assert_eq!(s.token_by_hash(&[1; 32]).await.unwrap().unwrap(), first);
        let old = ts(Utc::now() - chrono::TimeDelta::seconds(61));
        let set = old.clone();
        s.write(move |c, _| {
            c.execute("UPDATE tokens SET last_used_at = ?1", [set])
                .map_err(db)
        })
        .await
        .unwrap();
        let later = s.token_by_hash(&[1; 32]).await.unwrap().unwrap();
        let recorded = later.last_used_at.unwrap();
        assert!(recorded > old && recorded >= used, "{recorded}");
    }
}
