//! The embedded SQLite backend: WAL, migrations at open, one writer and a few
//! readers, every call on the blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use ucsync_core::{
    ContentHash, ElementName, Fields, HashIndex, HashIndexBuilder, JobState, ObjectId, PlanOp,
    SecretKey, SyncType, key_digest,
};

use crate::model::*;
use crate::{ObjectQuery, Result, Store, StoreError};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/001_initial.sql"),
    include_str!("../migrations/sqlite/002_hash_index.sql"),
    include_str!("../migrations/sqlite/003_digest_index.sql"),
];
const READERS: usize = 4;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// ucsync's database in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
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
    Ok(c)
}

impl SqliteStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub async fn open(path: &Path, secret: SecretKey) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        let p = path.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let mut c = connect(&p).map_err(db)?;
            migrate(&mut c)?;
            Ok(c)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        Ok(SqliteStore {
            path,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Mutex::new(Vec::new())),
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
        let readers = self.readers.clone();
        let path = self.path.clone();
        let secret = self.secret.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().expect("readers").pop();
            let conn = match conn {
                Some(c) => c,
                None => connect(&path).map_err(db)?,
            };
            let out = f(&conn, &secret);
            let mut pool = readers.lock().expect("readers");
            if pool.len() < READERS {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))?
    }
}

fn migrate(c: &mut Connection) -> Result<()> {
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    let version = version.max(0) as usize;
    // Migrations that fill digests of rows already stored call this.
    c.create_scalar_function(
        "ucsync_key_digest",
        2,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(digest_blob(key_digest(&ctx.get::<String>(0)?, &ctx.get::<String>(1)?)).to_vec()),
    )
    .map_err(db)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = c.transaction().map_err(db)?;
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
     s.last_init_at, s.last_init_ok, s.last_init_error, s.version_at_init, s.format_at_init, s.sync_point, s.last_sync_at, s.last_success_at";

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

const JOB_COLUMNS: &str = "id, element, requested, type, reason, trigger, requested_by, state, progress, counts, error, created_at, started_at, finished_at";

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

    async fn apply_changes(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
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
                    let op = match &ch.upsert {
                        Some((fields, hash, name)) => {
                            if before.as_deref() == Some(&hash.0[..]) {
                                counts.unchanged += 1;
                                continue;
                            }
                            up.execute(params![element, ch.id.object_type, ch.id.key, fields_json(fields), &hash.0[..], name, at, &id_digest(&ch.id)[..]]).map_err(db)?;
                            if before.is_some() {
                                counts.changed += 1;
                                "change"
                            } else {
                                counts.added += 1;
                                "add"
                            }
                        }
                        None => {
                            if before.is_none() {
                                counts.unchanged += 1;
                                continue;
                            }
                            del.execute(params![element, ch.id.object_type, ch.id.key]).map_err(db)?;
                            counts.deleted += 1;
                            "delete"
                        }
                    };
                    log.execute(params![element, job, ch.id.object_type, ch.id.key, op, ch.by_login, ch.at_element, at]).map_err(db)?;
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

    async fn changes(&self, job: JobId) -> Result<Vec<ChangeRecord>> {
        self.read(move |c, _| {
            let mut st = c.prepare("SELECT object_type, object_key, op, by_login, at_element, at FROM changes WHERE job_id = ?1 ORDER BY id").map_err(db)?;
            let applied: Vec<ChangeRecord> = st
                .query_map([job], |r| {
                    Ok(ChangeRecord { object_type: r.get(0)?, key: r.get(1)?, op: r.get(2)?, by_login: r.get(3)?, at_element: r.get(4)?, at: r.get(5)?, applied: true })
                })
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            if !applied.is_empty() {
                return Ok(applied);
            }
            let at: Option<String> = c.query_row("SELECT coalesce(finished_at, created_at) FROM jobs WHERE id = ?1", [job], |r| r.get(0)).optional().map_err(db)?;
            let at = at.ok_or(StoreError::NoJob(job))?;
            let mut st = c.prepare("SELECT object_type, object_key, op FROM staged WHERE job_id = ?1 ORDER BY object_type, length(object_key), object_key").map_err(db)?;
            let proposed = st
                .query_map([job], |r| Ok(ChangeRecord { object_type: r.get(0)?, key: r.get(1)?, op: r.get(2)?, by_login: None, at_element: None, at: at.clone(), applied: false }))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            Ok(proposed)
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
        self.read(move |c, _| {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
            c.query_row(&sql, [id], job_row)
                .optional()
                .map_err(db)?
                .map(finish_job)
                .transpose()
        })
        .await
    }

    async fn jobs(
        &self,
        element: Option<&str>,
        state: Option<JobState>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Job>> {
        let element = element.map(str::to_string);
        self.read(move |c, _| {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR element = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY id DESC LIMIT ?3 OFFSET ?4");
            let mut st = c.prepare(&sql).map_err(db)?;
            let limit = if limit == 0 { i64::MAX } else { limit as i64 };
            let rows = st.query_map(params![element, state.map(|s| s.as_str()), limit, offset as i64], job_row).map_err(db)?;
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
}
