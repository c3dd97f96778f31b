//! Objects on SQLite: the stored index an init diffs against, pages of
//! objects, an init's staging and its one final transaction, changes
//! outside an init, notify's applied rows, and the change log.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use ucsync_core::{ContentHash, HashIndex, HashIndexBuilder, ObjectId};

use super::{READERS, SqliteStore, all, blob16, db, now, text_ref, value};
use crate::model::*;
use crate::rows::{self, OBJECT_COLUMNS};
use crate::rules::{id_digest, load_index};
use crate::{ObjectQuery, Result, StoreError};

/// Writes an object over the one of its id, if any: an upsert, not
/// `INSERT OR REPLACE`, whose replacement would fire the insert trigger
/// that counts objects (migration 014) without the delete one.
pub(super) const UPSERT: &str = "ON CONFLICT (element_id, object_type, object_key) DO UPDATE SET \
    fields = excluded.fields, hash = excluded.hash, name = excluded.name, \
    updated_at = excluded.updated_at, digest = excluded.digest";

/// The insert of a job's staged objects (`?1` the element, `?2` the job, `?3`
/// the time), to be followed by [`UPSERT`]: its `WHERE` keeps SQLite from
/// reading the `ON` as a join's.
pub(super) const STAGED_OBJECTS: &str = "INSERT INTO objects (element_id, object_type, object_key, fields, hash, name, updated_at, digest) \
    SELECT ?1, object_type, object_key, fields, hash, name, ?3, digest FROM staged WHERE job_id = ?2 AND op != 'delete'";

impl SqliteStore {
    pub(crate) async fn object_hashes(&self, element: ElementId) -> Result<HashIndex> {
        // Digest ranges on several reader connections at once.
        load_index(READERS, |lo, hi| {
            self.read(move |c, _| {
                let mut out = HashIndexBuilder::default();
                let mut st = c
                    .prepare_cached(
                        "SELECT digest, hash, object_type FROM objects INDEXED BY objects_digests \
                         WHERE element_id = ?1 AND digest >= ?2 AND digest <= ?3 ORDER BY digest",
                    )
                    .map_err(db)?;
                let mut rows = st.query(params![element, &lo[..], &hi[..]]).map_err(db)?;
                while let Some(r) = rows.next().map_err(db)? {
                    let digest = u128::from_be_bytes(blob16(r, 0, "digest")?);
                    out.push_digest(text_ref(r, 2)?, digest, ContentHash(blob16(r, 1, "hash")?));
                }
                Ok(out)
            })
        })
        .await
    }

    pub(crate) async fn object_ids(
        &self,
        element: ElementId,
        digests: Vec<u128>,
    ) -> Result<Vec<ObjectId>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        self.read(move |c, _| {
            let wanted: std::collections::HashSet<u128> = digests.into_iter().collect();
            let mut st = c
                .prepare_cached("SELECT digest, object_type, object_key FROM objects INDEXED BY objects_digests WHERE element_id = ?1")
                .map_err(db)?;
            let mut rows = st.query([element]).map_err(db)?;
            let mut out = Vec::with_capacity(wanted.len());
            while let Some(r) = rows.next().map_err(db)? {
                if wanted.contains(&u128::from_be_bytes(blob16(r, 0, "digest")?)) {
                    out.push(ObjectId::new(text_ref(r, 1)?, text_ref(r, 2)?));
                }
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn objects(
        &self,
        element: ElementId,
        q: &ObjectQuery,
    ) -> Result<Vec<StoredObject>> {
        let q = q.clone();
        self.read(move |c, _| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE element_id = ?1 \
                     AND (?2 IS NULL OR object_type = ?2) AND (?3 IS NULL OR object_key = ?3) \
                     ORDER BY object_type, length(object_key), object_key LIMIT ?4 OFFSET ?5"
                ))
                .map_err(db)?;
            let p = params![
                element,
                q.object_type,
                q.key,
                rows::sql_limit(q.limit),
                rows::sql_count(q.offset)
            ];
            all(&mut st, p, |r| rows::object(r, 0))
        })
        .await
    }

    pub(crate) async fn object_count(&self, element: ElementId) -> Result<u64> {
        self.read(move |c, _| {
            let n: i64 = value(
                c,
                "SELECT coalesce(sum(n), 0) FROM object_counts WHERE element_id = ?1",
                [element],
            )?;
            Ok(rows::count_from(n))
        })
        .await
    }

    pub(crate) async fn stage(&self, job: JobId, batch: Vec<Staged>) -> Result<()> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            {
                let mut st = tx
                    .prepare_cached("INSERT OR REPLACE INTO staged (job_id, object_type, object_key, op, fields, hash, name, digest, by_login, at_element) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                    .map_err(db)?;
                for s in &batch {
                    st.execute(params![job, s.id.object_type, s.id.key, s.op.as_str(), rows::fields_json(&s.fields), &s.hash.0[..], s.name, &id_digest(&s.id)[..], s.by_login, s.at_element]).map_err(db)?;
                }
            }
            tx.commit().map_err(db)
        })
        .await
    }

    pub(crate) async fn commit_init(
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
            next_revision(&tx, element)?;
            tx.execute(
                &format!("{STAGED_OBJECTS} {UPSERT}"),
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

    pub(crate) async fn discard_staged(&self, job: JobId) -> Result<()> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            tx.execute("DELETE FROM plans WHERE job_id = ?1", [job])
                .map_err(db)?;
            tx.execute("DELETE FROM staged WHERE job_id = ?1", [job])
                .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    pub(crate) async fn record_init_failure(&self, element: ElementId, error: &str) -> Result<()> {
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

    pub(crate) async fn forget_sync_point(&self, element: ElementId) -> Result<()> {
        self.write(move |c, _| {
            c.execute(
                "UPDATE sync_state SET sync_point = NULL, revision = revision + 1 WHERE element_id = ?1",
                params![element],
            )
            .map(|_| ())
            .map_err(db)
        })
        .await
    }

    /// Applies changes (and records notify-applied rows), moving the sync
    /// point when one is given, in one transaction; when `revision` is
    /// given, only if the element's objects are still at it (else `None`).
    async fn apply(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
        (row_keys, revision): (Vec<String>, Option<i64>),
    ) -> Result<Option<JobCounts>> {
        let sync_point = sync_point.map(str::to_string);
        self.write(move |c, _| {
            let at = now();
            let tx = c.transaction().map_err(db)?;
            let now = next_revision(&tx, element)?;
            if revision.is_some_and(|r| now != r + 1) {
                return Ok(None);
            }
            let mut counts = JobCounts::default();
            {
                let mut up = tx
                    .prepare_cached(&format!("INSERT INTO objects (element_id, object_type, object_key, fields, hash, name, updated_at, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) {UPSERT}"))
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
                        Some((fields, hash, name)) => up.execute(params![element, ch.id.object_type, ch.id.key, rows::fields_json(fields), &hash.0[..], name, at, &id_digest(&ch.id)[..]]),
                        None => del.execute(params![element, ch.id.object_type, ch.id.key]),
                    }
                    .map_err(db)?;
                    log.execute(params![element, job, ch.id.object_type, ch.id.key, op.as_str(), ch.by_login, ch.at_element, at]).map_err(db)?;
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
            Ok(Some(counts))
        })
        .await
    }

    pub(crate) async fn apply_changes(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
    ) -> Result<JobCounts> {
        let applied = self
            .apply(job, element, changes, sync_point, (Vec::new(), None))
            .await?;
        Ok(applied.unwrap_or_default())
    }

    pub(crate) async fn apply_notify(
        &self,
        element: ElementId,
        changes: Vec<Change>,
        row_keys: &[String],
        revision: i64,
    ) -> Result<Option<JobCounts>> {
        let keys = row_keys.to_vec();
        self.apply(None, element, changes, None, (keys, Some(revision)))
            .await
    }

    pub(crate) async fn notified_rows(&self, element: ElementId) -> Result<Vec<String>> {
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

    pub(crate) async fn prune_notified_rows(
        &self,
        element: ElementId,
        before: DateTime<Utc>,
    ) -> Result<()> {
        let before = rows::time_text(before);
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

    pub(crate) async fn record_notify_event(
        &self,
        element: ElementId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let at = rows::time_text(at);
        self.write(move |c, _| {
            c.execute("UPDATE sync_state SET last_notify_at = ?2 WHERE element_id = ?1 AND (last_notify_at IS NULL OR last_notify_at < ?2)", params![element, at])
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn changes_page(
        &self,
        job: JobId,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)> {
        let (offset, limit) = (rows::sql_count(offset), rows::sql_count(limit));
        self.read(move |c, _| {
            let applied: i64 = value(c, "SELECT count(*) FROM changes WHERE job_id = ?1", [job])?;
            if applied > 0 {
                let mut st = c.prepare_cached(&format!("SELECT {} FROM changes WHERE job_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3", rows::CHANGE_COLUMNS)).map_err(db)?;
                let page = all(&mut st, params![job, limit, offset], rows::change)?;
                return Ok((page, rows::count_from(applied)));
            }
            let at: Option<String> = c.query_row("SELECT coalesce(finished_at, created_at) FROM jobs WHERE id = ?1", [job], |r| r.get(0)).optional().map_err(db)?;
            let at = rows::parse_time(&at.ok_or(StoreError::NoJob(job))?)?;
            let proposed: i64 = value(c, "SELECT count(*) FROM staged WHERE job_id = ?1", [job])?;
            let mut st = c.prepare_cached(&format!("SELECT {} FROM staged s LEFT JOIN jobs j ON j.id = s.job_id \
                 LEFT JOIN objects o ON o.element_id = j.element_id AND o.object_type = s.object_type AND o.object_key = s.object_key \
                 WHERE s.job_id = ?1 ORDER BY s.object_type, length(s.object_key), s.object_key LIMIT ?2 OFFSET ?3", rows::PLANNED_COLUMNS)).map_err(db)?;
            let page = all(&mut st, params![job, limit, offset], |r| rows::planned(r, at))?;
            Ok((page, rows::count_from(proposed)))
        })
        .await
    }

    pub(crate) async fn object_history(
        &self,
        element: ElementId,
        object_type: &str,
        key: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<HistoryEntry>, u64)> {
        let (offset, limit) = (rows::sql_count(offset), rows::sql_count(limit));
        let (object_type, key) = (object_type.to_string(), key.to_string());
        self.read(move |c, _| {
            let total: i64 = value(c, "SELECT count(*) FROM changes WHERE element_id = ?1 AND object_type = ?2 AND object_key = ?3", params![element, object_type, key])?;
            // The index of objects holds the row id: newest first, no sort.
            let mut st = c.prepare_cached(&format!("SELECT {} FROM changes INDEXED BY changes_by_object WHERE element_id = ?1 AND object_type = ?2 AND object_key = ?3 ORDER BY id DESC LIMIT ?4 OFFSET ?5", rows::HISTORY_COLUMNS)).map_err(db)?;
            let page = all(&mut st, params![element, object_type, key, limit, offset], rows::history_entry)?;
            Ok((page, rows::count_from(total)))
        })
        .await
    }
}

/// Counts one more revision of the element's objects (its
/// `sync.revision`) and answers it.
fn next_revision(tx: &rusqlite::Transaction<'_>, element: ElementId) -> Result<i64> {
    tx.query_row(
        "UPDATE sync_state SET revision = revision + 1 WHERE element_id = ?1 RETURNING revision",
        [element],
        |r| r.get(0),
    )
    .map_err(db)
}
