//! Plans on PostgreSQL: what a dry run (or an init the discrepancy check
//! refused) keeps — its staged rows and what applying them records — and
//! applying one in one transaction that holds the element's sync_state row
//! (as every write to its objects does), refused when the element's
//! objects changed since the plan read them.

use std::collections::{BTreeMap, HashSet};

use ucsync_core::{ContentHash, ObjectId, SyncType};

use super::{PgStore, db, get};
use crate::model::*;
use crate::rows::{self, Columns, planned_hash};
use crate::rules::id_digest;
use crate::{Result, StoreError};

/// The kept plan of a job, if it has one.
async fn load_plan(
    c: &impl deadpool_postgres::GenericClient,
    job: JobId,
) -> Result<Option<PlanRecord>> {
    let Some(r) = c
        .query_opt(
            "SELECT element_id, kind, revision, version, format, sync_point FROM plans WHERE job_id = $1",
            &[&job],
        )
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let element: i64 = get(&r, 0)?;
    let kind: String = get(&r, 1)?;
    let revision: i64 = get(&r, 2)?;
    let version: String = get(&r, 3)?;
    let format: i64 = get(&r, 4)?;
    let sync_point: String = get(&r, 5)?;
    let mut types: BTreeMap<String, PlanTypeCounts> = BTreeMap::new();
    let counted = c
        .query(
            "SELECT object_type, op, count(*) FROM staged WHERE job_id = $1 GROUP BY object_type, op",
            &[&job],
        )
        .await
        .map_err(db)?;
    for r in &counted {
        let e = types.entry(r.text(0)?).or_default();
        let n = rows::count_from(r.int(2)?);
        match r.text(1)?.as_str() {
            "add" => e.add = n,
            "change" => e.change = n,
            _ => e.delete = n,
        }
    }
    for (t, counts) in types.iter_mut().filter(|(_, c)| c.delete > 0) {
        let first = c
            .query(
                "SELECT object_key FROM staged WHERE job_id = $1 AND object_type = $2 AND op = 'delete' \
                 ORDER BY length(object_key), object_key LIMIT $3",
                &[&job, t, &(PLAN_FIRST_KEYS as i64)],
            )
            .await
            .map_err(db)?;
        counts.first_deleted = first.iter().map(|r| r.text(0)).collect::<Result<_>>()?;
    }
    Ok(Some(PlanRecord {
        job,
        element,
        base: PlanBase {
            kind: rows::parse(&kind)?,
            revision,
            version,
            format: u32::try_from(format).unwrap_or(0),
            sync_point,
        },
        types,
    }))
}

impl PgStore {
    pub(crate) async fn keep_plan(
        &self,
        job: JobId,
        element: ElementId,
        deletes: &[ObjectId],
        base: &PlanBase,
    ) -> Result<()> {
        let unique: HashSet<&ObjectId> = deletes.iter().collect();
        let types: Vec<&str> = unique.iter().map(|d| d.object_type.as_str()).collect();
        let keys: Vec<&str> = unique.iter().map(|d| d.key.as_str()).collect();
        let digests: Vec<Vec<u8>> = unique.iter().map(|d| id_digest(d).to_vec()).collect();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute(
            "INSERT INTO staged (job_id, object_type, object_key, digest, op) \
             SELECT $1, t, k, d, 'delete' FROM unnest($2::text[], $3::text[], $4::bytea[]) AS u(t, k, d) \
             ON CONFLICT (job_id, object_type, object_key) DO UPDATE SET digest = excluded.digest, op = 'delete', \
               fields = NULL, hash = NULL, name = NULL",
            &[&job, &types, &keys, &digests],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO plans (job_id, element_id, kind, revision, version, format, sync_point) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (job_id) DO UPDATE SET element_id = excluded.element_id, kind = excluded.kind, \
               revision = excluded.revision, version = excluded.version, format = excluded.format, \
               sync_point = excluded.sync_point",
            &[
                &job,
                &element,
                &base.kind.as_str(),
                &base.revision,
                &base.version,
                &i64::from(base.format),
                &base.sync_point,
            ],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn plan(&self, job: JobId) -> Result<Option<PlanRecord>> {
        let c = self.client().await?;
        load_plan(&c, job).await
    }

    pub(crate) async fn planned_hash(
        &self,
        job: JobId,
        id: &ObjectId,
    ) -> Result<Option<Option<ContentHash>>> {
        let c = self.client().await?;
        let found = c
            .query_opt(
                "SELECT op, hash FROM staged WHERE job_id = $1 AND object_type = $2 AND object_key = $3",
                &[&job, &id.object_type, &id.key],
            )
            .await
            .map_err(db)?;
        let found = match found {
            Some(r) => Some((get::<String>(&r, 0)?, get::<Option<Vec<u8>>>(&r, 1)?)),
            None => None,
        };
        planned_hash(found)
    }

    pub(crate) async fn apply_plan(&self, job: JobId, by: &str) -> Result<PlanApplied> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // The job's row first: two applies of one plan take turns on it.
        let r = tx
            .query_opt(
                "SELECT applied_at, applied_by, counts FROM jobs WHERE id = $1 FOR UPDATE",
                &[&job],
            )
            .await
            .map_err(db)?
            .ok_or(StoreError::NoJob(job))?;
        if let Some(at) = r.time_opt(0)? {
            return Ok(PlanApplied::AlreadyApplied(
                at,
                r.text_opt(1)?.unwrap_or_default(),
            ));
        }
        let mut counts: JobCounts = r.json(2, "counts")?;
        let Some(plan) = load_plan(&tx, job).await? else {
            return Ok(PlanApplied::NoPlan);
        };
        let element = plan.element;
        // The element's sync_state row, held to the end: every write to its
        // objects moves its revision on holding it.
        let revision = tx
            .query_opt(
                "SELECT revision FROM sync_state WHERE element_id = $1 FOR UPDATE",
                &[&element],
            )
            .await
            .map_err(db)?;
        match revision {
            None => return Ok(PlanApplied::NoPlan),
            Some(r) if get::<i64>(&r, 0)? != plan.base.revision => return Ok(PlanApplied::Stale),
            Some(_) => {}
        }
        tx.execute(
            "INSERT INTO objects (element_id, object_type, object_key, digest, fields, hash, name, updated_at) \
             SELECT $1, s.object_type, s.object_key, s.digest, s.fields, s.hash, s.name, now() FROM staged s \
             WHERE s.job_id = $2 AND s.op <> 'delete' \
             ON CONFLICT (element_id, object_type, object_key) DO UPDATE SET digest = excluded.digest, \
               fields = excluded.fields, hash = excluded.hash, name = excluded.name, updated_at = excluded.updated_at",
            &[&element, &job],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "DELETE FROM objects o USING staged s WHERE s.job_id = $2 AND s.op = 'delete' \
               AND o.element_id = $1 AND o.object_type = s.object_type AND o.object_key = s.object_key",
            &[&element, &job],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO changes (element_id, job_id, object_type, object_key, op, by_login, at_element, at) \
             SELECT $1, $2, object_type, object_key, op, by_login, at_element, now() FROM staged WHERE job_id = $2 \
             ORDER BY object_type, length(object_key), object_key",
            &[&element, &job],
        )
        .await
        .map_err(db)?;
        tx.execute("DELETE FROM staged WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?;
        tx.execute("DELETE FROM plans WHERE job_id = $1", &[&job])
            .await
            .map_err(db)?;
        let b = &plan.base;
        if b.kind == SyncType::Incremental {
            tx.execute(
                "UPDATE sync_state SET sync_point = $2, last_sync_at = now(), last_success_at = now(), \
                   revision = revision + 1 WHERE element_id = $1",
                &[&element, &b.sync_point],
            )
            .await
        } else {
            tx.execute(
                "UPDATE sync_state SET last_init_at = now(), last_init_ok = true, last_init_error = NULL, \
                   version_at_init = $2, format_at_init = $3, sync_point = $4, last_sync_at = now(), \
                   last_success_at = now(), revision = revision + 1 WHERE element_id = $1",
                &[&element, &b.version, &i64::from(b.format), &b.sync_point],
            )
            .await
        }
        .map_err(db)?;
        let sum = |f: fn(&PlanTypeCounts) -> u64| plan.types.values().map(f).sum::<u64>();
        counts.added = sum(|c| c.add);
        counts.changed = sum(|c| c.change);
        counts.deleted = sum(|c| c.delete);
        counts.would_add = 0;
        counts.would_change = 0;
        counts.would_delete = 0;
        tx.execute(
            "UPDATE jobs SET applied_at = now(), applied_by = $2, counts = $3 WHERE id = $1",
            &[&job, &by, &tokio_postgres::types::Json(&counts)],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(PlanApplied::Applied(counts))
    }
}
