//! The embedded SQLite backend: WAL, migrations at open, one writer and a few
//! readers, every call on the blocking pool. This module opens and migrates
//! the file and runs calls on its connections; the [`Store`] methods are
//! kept by topic in the modules below, as SQL and its parameters.

mod alarms;
mod elements;
mod jobs;
mod nodes;
mod objects;
mod plans;
mod retention;
mod schedules;
mod search;
mod sessions;
mod tokens;
mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Params, Row, Statement, TransactionBehavior};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use ucsync_core::{SecretKey, key_digest};

use crate::model::*;
use crate::rows::{self, Columns};
use crate::rules::digest_blob;
use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/001_initial.sql"),
    include_str!("../../migrations/sqlite/002_hash_index.sql"),
    include_str!("../../migrations/sqlite/003_digest_index.sql"),
    include_str!("../../migrations/sqlite/004_service.sql"),
    include_str!("../../migrations/sqlite/005_notify.sql"),
    include_str!("../../migrations/sqlite/006_search_listing.sql"),
    include_str!("../../migrations/sqlite/007_nodes.sql"),
    include_str!("../../migrations/sqlite/008_init_pool.sql"),
    include_str!("../../migrations/sqlite/009_retention.sql"),
    include_str!("../../migrations/sqlite/010_plans.sql"),
    include_str!("../../migrations/sqlite/011_alarms.sql"),
    include_str!("../../migrations/sqlite/012_users.sql"),
    include_str!("../../migrations/sqlite/013_sessions.sql"),
    include_str!("../../migrations/sqlite/014_element_lists.sql"),
    include_str!("../../migrations/sqlite/015_import_previews.sql"),
];
const READERS: usize = 4;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// Now, as stored (see [`rows::time_text`]).
fn now() -> String {
    rows::time_text(Utc::now())
}

/// A job's number is an integer parameter and column.
impl rusqlite::ToSql for JobId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.into())
    }
}

impl rusqlite::types::FromSql for JobId {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<JobId> {
        i64::column_result(v).map(JobId)
    }
}

impl Columns for Row<'_> {
    fn text(&self, i: usize) -> Result<String> {
        self.get(i).map_err(db)
    }
    fn text_opt(&self, i: usize) -> Result<Option<String>> {
        self.get(i).map_err(db)
    }
    fn int(&self, i: usize) -> Result<i64> {
        self.get(i).map_err(db)
    }
    fn int_opt(&self, i: usize) -> Result<Option<i64>> {
        self.get(i).map_err(db)
    }
    fn flag_opt(&self, i: usize) -> Result<Option<bool>> {
        self.get(i).map_err(db)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        self.get(i).map_err(db)
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>> {
        rows::parse_time(&self.text(i)?)
    }
    fn time_opt(&self, i: usize) -> Result<Option<DateTime<Utc>>> {
        self.text_opt(i)?.map(|t| rows::parse_time(&t)).transpose()
    }
    fn json<T: DeserializeOwned>(&self, i: usize, what: &str) -> Result<T> {
        rows::json_from(&self.text(i)?, what)
    }
}

/// Every row of a statement, each decoded by `f`.
fn all<'s, T>(
    st: &'s mut Statement<'_>,
    p: impl Params,
    f: impl Fn(&Row<'s>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut rows = st.query(p).map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        out.push(f(r)?);
    }
    Ok(out)
}

/// The row of `sql` (a cached statement; a query of one row by its key),
/// decoded by `f`, if there is one.
fn first<T>(
    c: &Connection,
    sql: &str,
    p: impl Params,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut st = c.prepare_cached(sql).map_err(db)?;
    Ok(all(&mut st, p, |r| f(r))?.into_iter().next())
}

/// The one value of a query that always answers one row (a count, EXISTS).
fn value<T: rusqlite::types::FromSql>(c: &Connection, sql: &str, p: impl Params) -> Result<T> {
    c.prepare_cached(sql)
        .map_err(db)?
        .query_row(p, |r| r.get(0))
        .map_err(db)
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
            retention::incremental_auto_vacuum(&c)?;
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
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(search::object_types(c, element)?)
            }
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

/// A 16-byte blob column, read in place.
fn blob16(r: &Row<'_>, i: usize, what: &str) -> Result<[u8; 16]> {
    let b = r
        .get_ref(i)
        .map_err(db)?
        .as_blob()
        .map_err(|e| StoreError::Database(e.to_string()))?;
    rows::bytes16(b, what)
}

/// A text column, read in place.
fn text_ref<'r>(r: &'r Row<'_>, i: usize) -> Result<&'r str> {
    r.get_ref(i)
        .map_err(db)?
        .as_str()
        .map_err(|e| StoreError::Database(e.to_string()))
}
