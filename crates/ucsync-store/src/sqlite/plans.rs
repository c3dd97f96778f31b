//! Plans on SQLite: what a dry run (or an init the discrepancy check
//! refused) keeps — its staged rows and what applying them records — and
//! applying one in one transaction, refused when the element's objects
//! changed since the plan read them.

use rusqlite::{Connection, OptionalExtension, params};
use ucsync_core::{ContentHash, ObjectId, SyncType};

use super::objects::{STAGED_OBJECTS, UPSERT};
use super::{SqliteStore, all, db, now};
use crate::model::*;
use crate::rows::{self, Columns, planned_hash};
use crate::rules::id_digest;
use crate::{Result, StoreError};

/// The kept plan of a job, if it has one.
fn load_plan(c: &Connection, job: JobId) -> Result<Option<PlanRecord>> {
    let found = c
        .query_row(
            "SELECT element_id, kind, revision, version, format, sync_point FROM plans WHERE job_id = ?1",
            [job],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .optional()
        .map_err(db)?;
    let Some((element, kind, revision, version, format, sync_point)) = found else {
        return Ok(None);
    };
    let mut types: std::collections::BTreeMap<String, PlanTypeCounts> = Default::default();
    let mut st = c
        .prepare_cached("SELECT object_type, op, count(*) FROM staged WHERE job_id = ?1 GROUP BY object_type, op")
        .map_err(db)?;
    let counted = all(&mut st, [job], |r| {
        Ok((r.text(0)?, r.text(1)?, rows::count_from(r.int(2)?)))
    })?;
    for (t, op, n) in counted {
        let e = types.entry(t).or_default();
        match op.as_str() {
            "add" => e.add = n,
            "change" => e.change = n,
            _ => e.delete = n,
        }
    }
    let mut first = c
        .prepare_cached(
            "SELECT object_key FROM staged WHERE job_id = ?1 AND object_type = ?2 AND op = 'delete' \
             ORDER BY length(object_key), object_key LIMIT ?3",
        )
        .map_err(db)?;
    for (t, counts) in types.iter_mut().filter(|(_, c)| c.delete > 0) {
        counts.first_deleted = all(&mut first, params![job, t, PLAN_FIRST_KEYS as i64], |r| {
            r.text(0)
        })?;
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

impl SqliteStore {
    pub(crate) async fn keep_plan(
        &self,
        job: JobId,
        element: ElementId,
        deletes: &[ObjectId],
        base: &PlanBase,
    ) -> Result<()> {
        let deletes = deletes.to_vec();
        let base = base.clone();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            {
                let mut st = tx.prepare_cached("INSERT OR REPLACE INTO staged (job_id, object_type, object_key, op, digest) VALUES (?1, ?2, ?3, 'delete', ?4)").map_err(db)?;
                for id in &deletes {
                    st.execute(params![job, id.object_type, id.key, &id_digest(id)[..]]).map_err(db)?;
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO plans (job_id, element_id, kind, revision, version, format, sync_point) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![job, element, base.kind.as_str(), base.revision, base.version, base.format, base.sync_point],
            )
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    pub(crate) async fn plan(&self, job: JobId) -> Result<Option<PlanRecord>> {
        self.read(move |c, _| load_plan(c, job)).await
    }

    pub(crate) async fn planned_hash(
        &self,
        job: JobId,
        id: &ObjectId,
    ) -> Result<Option<Option<ContentHash>>> {
        let id = id.clone();
        self.read(move |c, _| {
            let found: Option<(String, Option<Vec<u8>>)> = c
                .query_row(
                    "SELECT op, hash FROM staged WHERE job_id = ?1 AND object_type = ?2 AND object_key = ?3",
                    params![job, id.object_type, id.key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?;
            planned_hash(found)
        })
        .await
    }

    pub(crate) async fn apply_plan(&self, job: JobId, by: &str) -> Result<PlanApplied> {
        let by = by.to_string();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let applied: Option<(Option<String>, Option<String>, String)> = tx
                .query_row(
                    "SELECT applied_at, applied_by, counts FROM jobs WHERE id = ?1",
                    [job],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db)?;
            let (applied_at, applied_by, counts) = applied.ok_or(StoreError::NoJob(job))?;
            if let Some(at) = applied_at {
                return Ok(PlanApplied::AlreadyApplied(
                    rows::parse_time(&at)?,
                    applied_by.unwrap_or_default(),
                ));
            }
            let Some(plan) = load_plan(&tx, job)? else {
                return Ok(PlanApplied::NoPlan);
            };
            let element = plan.element;
            let revision: Option<i64> = tx
                .query_row("SELECT revision FROM sync_state WHERE element_id = ?1", [element], |r| r.get(0))
                .optional()
                .map_err(db)?;
            match revision {
                None => return Ok(PlanApplied::NoPlan),
                Some(r) if r != plan.base.revision => return Ok(PlanApplied::Stale),
                Some(_) => {}
            }
            let at = now();
            tx.execute(
                &format!("{STAGED_OBJECTS} {UPSERT}"),
                params![element, job, at],
            )
            .map_err(db)?;
            tx.execute(
                "DELETE FROM objects WHERE element_id = ?1 AND (object_type, object_key) IN \
                 (SELECT object_type, object_key FROM staged WHERE job_id = ?2 AND op = 'delete')",
                params![element, job],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO changes (element_id, job_id, object_type, object_key, op, by_login, at_element, at) \
                 SELECT ?1, ?2, object_type, object_key, op, by_login, at_element, ?3 FROM staged WHERE job_id = ?2 \
                 ORDER BY object_type, length(object_key), object_key",
                params![element, job, at],
            )
            .map_err(db)?;
            tx.execute("DELETE FROM staged WHERE job_id = ?1", [job]).map_err(db)?;
            tx.execute("DELETE FROM plans WHERE job_id = ?1", [job]).map_err(db)?;
            let b = &plan.base;
            if b.kind == SyncType::Incremental {
                tx.execute(
                    "UPDATE sync_state SET sync_point = ?2, last_sync_at = ?3, last_success_at = ?3, revision = revision + 1 WHERE element_id = ?1",
                    params![element, b.sync_point, at],
                )
            } else {
                tx.execute(
                    "UPDATE sync_state SET last_init_at = ?2, last_init_ok = 1, last_init_error = NULL, version_at_init = ?3, format_at_init = ?4, \
                     sync_point = ?5, last_sync_at = ?2, last_success_at = ?2, revision = revision + 1 WHERE element_id = ?1",
                    params![element, at, b.version, b.format, b.sync_point],
                )
            }
            .map_err(db)?;
            let mut counts: JobCounts = rows::json_from(&counts, "counts")?;
            let sum = |f: fn(&PlanTypeCounts) -> u64| plan.types.values().map(f).sum::<u64>();
            counts.added = sum(|c| c.add);
            counts.changed = sum(|c| c.change);
            counts.deleted = sum(|c| c.delete);
            counts.would_add = 0;
            counts.would_change = 0;
            counts.would_delete = 0;
            tx.execute(
                "UPDATE jobs SET applied_at = ?2, applied_by = ?3, counts = ?4 WHERE id = ?1",
                params![job, at, by, rows::json_text(&counts)],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(PlanApplied::Applied(counts))
        })
        .await
    }
}
