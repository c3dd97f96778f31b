//! Objects on PostgreSQL: the stored index an init diffs against, read in
//! digest ranges on several connections; pages of objects; an init's
//! staging and its one final transaction; changes outside an init, applied
//! as whole batches; notify's applied found; and the change log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio_postgres::types::ToSql;
use ucsync_core::{ContentHash, HashIndex, HashIndexBuilder, ObjectId, PlanOp};

use super::{PgStore, db, get, lock_sync_state};
use crate::model::*;
use crate::rows::{self, Columns, OBJECT_COLUMNS};
use crate::rules::{id_digest, load_index};
use crate::{ObjectQuery, Result, StoreError};

/// How many digest ranges an init's load reads in parallel at most.
const LOAD_PARTS: usize = 4;

/// Digests per query when an init reads back the keys of its deletions.
const DIGEST_CHUNK: usize = 10_000;

impl PgStore {
    /// Applies changes (and records notify-applied rows), moving the sync
    /// point when one is given, in one transaction; when `revision` is
    /// given, only if the element's objects are still at it (else `None`).
    async fn apply(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
        (row_keys, revision): (&[String], Option<i64>),
    ) -> Result<Option<JobCounts>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // What is read as stored below stays so until this commits.
        let now = lock_sync_state(&tx, element).await?;
        if revision.is_some_and(|r| now != r + 1) {
            return Ok(None);
        }

        // What is stored of the objects concerned, in one query.
        let mut stored: HashMap<(&str, &str), Option<[u8; 16]>> = HashMap::new();
        for ch in &changes {
            stored.insert((&ch.id.object_type, &ch.id.key), None);
        }
        if !stored.is_empty() {
            let types: Vec<&str> = stored.keys().map(|k| k.0).collect();
            let keys: Vec<&str> = stored.keys().map(|k| k.1).collect();
            let found = tx
                .query(
                    "SELECT d.n, o.hash FROM objects o \
                     JOIN unnest($2::text[], $3::text[]) WITH ORDINALITY AS d(t, k, n) \
                       ON o.object_type = d.t AND o.object_key = d.k \
                     WHERE o.element_id = $1",
                    &[&element, &types, &keys],
                )
                .await
                .map_err(db)?;
            for r in &found {
                let n = usize::try_from(get::<i64>(r, 0)? - 1)
                    .map_err(|_| StoreError::Database("unnest ordinality out of range".into()))?;
                stored.insert(
                    (types[n], keys[n]),
                    Some(rows::bytes16(get(r, 1)?, "hash")?),
                );
            }
        }

        // The changes one after another against what is stored, as the
        // SQLite backend applies them; then each object's last state at once.
        let mut counts = JobCounts::default();
        let mut last: HashMap<(&str, &str), usize> = HashMap::new();
        let mut log: Vec<(usize, PlanOp)> = Vec::new();
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
                fields.push(rows::fields_json(f));
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
            let ops: Vec<&str> = log.iter().map(|(_, op)| op.as_str()).collect();
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
        // Its revision moved on with the lock taken above: whatever it
        // wrote, a plan or a notify batch read before it is stale now.
        tx.commit().await.map_err(db)?;
        Ok(Some(counts))
    }

    pub(crate) async fn object_hashes(&self, element: ElementId) -> Result<HashIndex> {
        // Digest ranges on several connections at once, each from the
        // index alone.
        load_index(LOAD_PARTS, |lo, hi| async move {
            let c = self.client().await?;
            let st = c
                .prepare_cached(
                    "SELECT digest, hash, object_type FROM objects \
                     WHERE element_id = $1 AND digest >= $2 AND digest <= $3 ORDER BY digest",
                )
                .await
                .map_err(db)?;
            let params: [&(dyn ToSql + Sync); 3] = [&element, &&lo[..], &&hi[..]];
            let found = c.query_raw(&st, params).await.map_err(db)?;
            let mut found = std::pin::pin!(found);
            let mut out = HashIndexBuilder::default();
            while let Some(r) = found.try_next().await.map_err(db)? {
                let digest = u128::from_be_bytes(rows::bytes16(get(&r, 0)?, "digest")?);
                out.push_digest(
                    get(&r, 2)?,
                    digest,
                    ContentHash(rows::bytes16(get(&r, 1)?, "hash")?),
                );
            }
            Ok(out)
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

    pub(crate) async fn objects(
        &self,
        element: ElementId,
        q: &ObjectQuery,
    ) -> Result<Vec<StoredObject>> {
        let c = self.client().await?;
        let mut sql = format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE element_id = $1");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&element];
        if let Some(t) = &q.object_type {
            params.push(t);
            sql.push_str(&format!(" AND object_type = ${}", params.len()));
        }
        if let Some(k) = &q.key {
            params.push(k);
            sql.push_str(&format!(" AND object_key = ${}", params.len()));
        }
        let (lim, off) = (rows::sql_limit(q.limit), rows::sql_count(q.offset));
        params.push(&lim);
        params.push(&off);
        sql.push_str(&format!(
            " ORDER BY object_type, length(object_key), object_key LIMIT ${} OFFSET ${}",
            params.len() - 1,
            params.len()
        ));
        let st = c.prepare_cached(&sql).await.map_err(db)?;
        let found = c.query(&st, &params).await.map_err(db)?;
        found.iter().map(|r| rows::object(r, 0)).collect()
    }

    pub(crate) async fn object_count(&self, element: ElementId) -> Result<u64> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT coalesce(sum(n), 0)::bigint FROM object_counts WHERE element_id = $1",
            )
            .await
            .map_err(db)?;
        let n: i64 = get(&c.query_one(&st, &[&element]).await.map_err(db)?, 0)?;
        Ok(rows::count_from(n))
    }

    pub(crate) async fn stage(&self, job: JobId, batch: Vec<Staged>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // One row per object, the last staged winning, as a replace would:
        // an upsert may not touch one row twice in a statement.
        let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
        for (i, s) in batch.iter().enumerate() {
            last.insert((&s.id.object_type, &s.id.key), i);
        }
        let found: Vec<&Staged> = batch
            .iter()
            .enumerate()
            .filter(|(i, s)| last[&(s.id.object_type.as_str(), s.id.key.as_str())] == *i)
            .map(|(_, s)| s)
            .collect();
        let types: Vec<&str> = found.iter().map(|s| s.id.object_type.as_str()).collect();
        let keys: Vec<&str> = found.iter().map(|s| s.id.key.as_str()).collect();
        let digests: Vec<Vec<u8>> = found.iter().map(|s| id_digest(&s.id).to_vec()).collect();
        let ops: Vec<&str> = found.iter().map(|s| s.op.as_str()).collect();
        let fields: Vec<String> = found.iter().map(|s| rows::fields_json(&s.fields)).collect();
        let hashes: Vec<&[u8]> = found.iter().map(|s| &s.hash.0[..]).collect();
        let names: Vec<Option<&str>> = found.iter().map(|s| s.name.as_deref()).collect();
        let logins: Vec<Option<&str>> = found.iter().map(|s| s.by_login.as_deref()).collect();
        let ats: Vec<Option<&str>> = found.iter().map(|s| s.at_element.as_deref()).collect();
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "INSERT INTO staged (job_id, object_type, object_key, digest, op, fields, hash, name, by_login, at_element) \
                 SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::bytea[], $8::text[], $9::text[], $10::text[]) \
                 ON CONFLICT (job_id, object_type, object_key) DO UPDATE SET digest = excluded.digest, op = excluded.op, \
                   fields = excluded.fields, hash = excluded.hash, name = excluded.name, by_login = excluded.by_login, \
                   at_element = excluded.at_element",
            )
            .await
            .map_err(db)?;
        c.execute(
            &st,
            &[
                &job, &types, &keys, &digests, &ops, &fields, &hashes, &names, &logins, &ats,
            ],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn commit_init(
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

    pub(crate) async fn discard_staged(&self, job: JobId) -> Result<()> {
        let c = self.client().await?;
        c.batch_execute(&format!(
            "DELETE FROM plans WHERE job_id = {job}; DELETE FROM staged WHERE job_id = {job}"
        ))
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn record_init_failure(&self, element: ElementId, error: &str) -> Result<()> {
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

    pub(crate) async fn forget_sync_point(&self, element: ElementId) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE sync_state SET sync_point = NULL, revision = revision + 1 WHERE element_id = $1",
            &[&element],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn apply_changes(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
    ) -> Result<JobCounts> {
        let applied = self
            .apply(job, element, changes, sync_point, (&[], None))
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
        self.apply(None, element, changes, None, (row_keys, Some(revision)))
            .await
    }

    pub(crate) async fn notified_rows(&self, element: ElementId) -> Result<Vec<String>> {
        let c = self.client().await?;
        let found = c
            .query(
                "SELECT row_key FROM notify_applied WHERE element_id = $1 ORDER BY id",
                &[&element],
            )
            .await
            .map_err(db)?;
        found.iter().map(|r| get::<String>(r, 0)).collect()
    }

    pub(crate) async fn prune_notified_rows(
        &self,
        element: ElementId,
        before: DateTime<Utc>,
    ) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM notify_applied WHERE element_id = $1 AND applied_at < $2",
            &[&element, &before],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn record_notify_event(
        &self,
        element: ElementId,
        at: DateTime<Utc>,
    ) -> Result<()> {
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

    pub(crate) async fn object_history(
        &self,
        element: ElementId,
        object_type: &str,
        key: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<HistoryEntry>, u64)> {
        let (offset, limit) = (rows::sql_count(offset), rows::sql_count(limit));
        let c = self.client().await?;
        let total: i64 = c
            .query_one(
                "SELECT count(*) FROM changes WHERE element_id = $1 AND object_type = $2 AND object_key = $3",
                &[&element, &object_type, &key],
            )
            .await
            .map_err(db)?
            .get(0);
        let st = c
            .prepare_cached(&format!(
                "SELECT {} FROM changes WHERE element_id = $1 AND object_type = $2 AND object_key = $3 \
                 ORDER BY id DESC LIMIT $4 OFFSET $5",
                rows::HISTORY_COLUMNS
            ))
            .await
            .map_err(db)?;
        let found = c
            .query(&st, &[&element, &object_type, &key, &limit, &offset])
            .await
            .map_err(db)?;
        let page = found
            .iter()
            .map(rows::history_entry)
            .collect::<Result<_>>()?;
        Ok((page, rows::count_from(total)))
    }

    pub(crate) async fn changes_page(
        &self,
        job: JobId,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)> {
        let (offset, limit) = (rows::sql_count(offset), rows::sql_count(limit));
        let c = self.client().await?;
        let applied: i64 = c
            .query_one("SELECT count(*) FROM changes WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?
            .get(0);
        if applied > 0 {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {} FROM changes WHERE job_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
                    rows::CHANGE_COLUMNS
                ))
                .await
                .map_err(db)?;
            let found = c.query(&st, &[&job, &limit, &offset]).await.map_err(db)?;
            let page = found.iter().map(rows::change).collect::<Result<_>>()?;
            return Ok((page, rows::count_from(applied)));
        }
        let at = c
            .query_opt(
                "SELECT coalesce(finished_at, created_at) FROM jobs WHERE id = $1",
                &[&job],
            )
            .await
            .map_err(db)?
            .ok_or(StoreError::NoJob(job))?
            .time(0)?;
        let proposed: i64 = c
            .query_one("SELECT count(*) FROM staged WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?
            .get(0);
        let found = c
            .query(
                &format!(
                    "SELECT {} FROM staged s LEFT JOIN jobs j ON j.id = s.job_id \
                     LEFT JOIN objects o ON o.element_id = j.element_id AND o.object_type = s.object_type AND o.object_key = s.object_key \
                     WHERE s.job_id = $1 ORDER BY s.object_type, length(s.object_key), s.object_key LIMIT $2 OFFSET $3",
                    rows::PLANNED_COLUMNS
                ),
                &[&job, &limit, &offset],
            )
            .await
            .map_err(db)?;
        let page = found
            .iter()
            .map(|r| rows::planned(r, at))
            .collect::<Result<_>>()?;
        Ok((page, rows::count_from(proposed)))
    }
}
