//! The PostgreSQL backend: one database shared by several service nodes.
//!
//! Migrations run at open under an advisory lock, so nodes starting together
//! migrate once. The job queue lives in `jobs`: requests serialize on their
//! element's row, claims skip rows another node is claiming, and a partial
//! unique index keeps one running job per element whatever the nodes do.
//! Times the store writes come from the database's clock, the one clock all
//! nodes share. This module connects and migrates; the [`Store`] methods are
//! kept by topic in the modules below, as SQL and its parameters.

mod alarms;
mod bus;
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

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::de::DeserializeOwned;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, Json, Type};
use tokio_postgres::{NoTls, Row};
use ucsync_core::SecretKey;

use crate::model::*;
use crate::rows::Columns;
use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/001_initial.sql"),
    include_str!("../../migrations/postgres/002_notify.sql"),
    include_str!("../../migrations/postgres/003_nodes.sql"),
    include_str!("../../migrations/postgres/004_init_pool.sql"),
    include_str!("../../migrations/postgres/005_retention.sql"),
    include_str!("../../migrations/postgres/006_plans.sql"),
    include_str!("../../migrations/postgres/007_alarms.sql"),
    include_str!("../../migrations/postgres/008_users.sql"),
    include_str!("../../migrations/postgres/009_search_by_element.sql"),
    include_str!("../../migrations/postgres/010_sessions.sql"),
    include_str!("../../migrations/postgres/011_search_index_only.sql"),
    include_str!("../../migrations/postgres/012_element_lists.sql"),
    include_str!("../../migrations/postgres/013_import_previews.sql"),
];

/// Connections per store: the parallel digest ranges of an init's load plus
/// the service's other work.
const POOL_SIZE: usize = 16;

/// The advisory lock class of migrations; the object id is the schema's hash,
/// so stores on different schemas of one database do not wait for each other.
const MIGRATION_LOCK: i32 = 0x7563_7379; // "ucsy"

/// ucsync's database on PostgreSQL, with a pool of connections.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    schema: Option<String>,
    secret: SecretKey,
    bus: bus::Bus,
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

fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T> {
    r.try_get(i).map_err(|e| {
        let column = r.columns().get(i).map_or("?", |c| c.name());
        StoreError::Database(format!("column {column}: {e}"))
    })
}

/// A job's number is a `bigint` parameter and column.
impl tokio_postgres::types::ToSql for JobId {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for JobId {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<JobId, Box<dyn std::error::Error + Sync + Send>> {
        i64::from_sql(ty, raw).map(JobId)
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as FromSql>::accepts(ty)
    }
}

impl Columns for Row {
    fn text(&self, i: usize) -> Result<String> {
        get(self, i)
    }
    fn text_opt(&self, i: usize) -> Result<Option<String>> {
        get(self, i)
    }
    fn int(&self, i: usize) -> Result<i64> {
        self.int_opt(i)?
            .ok_or_else(|| StoreError::Database(format!("column {i} is null")))
    }
    fn int_opt(&self, i: usize) -> Result<Option<i64>> {
        // Ports are `integer`, ids and counts `bigint`.
        match self.columns().get(i).map(|c| c.type_()) {
            Some(&Type::INT4) => Ok(get::<Option<i32>>(self, i)?.map(i64::from)),
            _ => get(self, i),
        }
    }
    fn flag_opt(&self, i: usize) -> Result<Option<bool>> {
        get(self, i)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        get(self, i)
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>> {
        get(self, i)
    }
    fn time_opt(&self, i: usize) -> Result<Option<DateTime<Utc>>> {
        get(self, i)
    }
    fn json<T: DeserializeOwned>(&self, i: usize, _what: &str) -> Result<T> {
        get::<Json<T>>(self, i).map(|j| j.0)
    }
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
        let bus = bus::Bus {
            config: config.clone(),
            tls: tls.clone(),
            channel: String::new(),
        };
        let manager = match tls {
            Some(tls) => Manager::from_config(config, tls, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Database(format!("connection pool: {e}")))?;
        let mut store = PgStore {
            pool,
            schema: schema.map(str::to_string),
            secret,
            bus,
        };
        store.migrate().await?;
        store.bus.channel = store.channel().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_err)
    }

    /// The installation's channel for [`PgStore::announce`]: one per schema.
    async fn channel(&self) -> Result<String> {
        let c = self.client().await?;
        let row = c
            .query_one(
                "SELECT 'ucsync_events_' || left(md5(coalesce($1::text, current_schema(), '')), 16)",
                &[&self.schema],
            )
            .await
            .map_err(db)?;
        get(&row, 0)
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
}

/// Takes the element's turn at writing its objects: commits, change
/// batches and its removal hold its sync_state row, and count one more
/// revision of its objects (the answer).
async fn lock_sync_state(
    tx: &deadpool_postgres::Transaction<'_>,
    element: ElementId,
) -> Result<i64> {
    let st = tx
        .prepare_cached(
            "UPDATE sync_state SET revision = revision + 1 WHERE element_id = $1 RETURNING revision",
        )
        .await
        .map_err(db)?;
    match tx.query_opt(&st, &[&element]).await.map_err(db)? {
        Some(r) => get(&r, 0),
        None => Err(StoreError::Database(format!(
            "no element with id {element}"
        ))),
    }
}
