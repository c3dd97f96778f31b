//! Retention on SQLite: the claim of a cluster-wide task's run, and the
//! removal of old finished jobs in short write transactions (the one
//! writer is free between them; their order is `rules::retention_run`),
//! after which the freed pages go back to the file system (`auto_vacuum =
//! INCREMENTAL`, set at open), a few thousand per write.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{SqliteStore, all, db, value};
use crate::Result;
use crate::model::Removed;
use crate::rows;
use crate::rules::{RetentionSteps, kept_jobs_sql, retention_run};

/// Finished jobs older than `?1` that retention may remove, oldest first,
/// `?2` at a time.
fn old_jobs_sql() -> String {
    format!(
        "SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'stopped') AND finished_at < ?1 \
         AND id NOT IN ({kept}) ORDER BY id LIMIT ?2",
        kept = kept_jobs_sql()
    )
}

/// The jobs of a batch, `?1`, as a JSON array of their ids.
const BATCH: &str = "SELECT value FROM json_each(?1)";

/// Pages given back to the file system per write.
const VACUUM_PAGES: u32 = 2_000;

fn id_list(jobs: &[i64]) -> String {
    serde_json::to_string(jobs).expect("ids are JSON")
}

impl RetentionSteps for SqliteStore {
    async fn old_jobs(&self, before: DateTime<Utc>, batch: u32) -> Result<Vec<i64>> {
        let before = rows::time_text(before);
        self.read(move |c, _| {
            let mut st = c.prepare_cached(&old_jobs_sql()).map_err(db)?;
            all(&mut st, params![before, batch], |r| r.get(0).map_err(db))
        })
        .await
    }

    async fn remove_records(&self, jobs: &[i64], batch: u32) -> Result<u64> {
        let list = id_list(jobs);
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            // A plan goes before any of its rows: never applied half.
            tx.execute(&format!("DELETE FROM plans WHERE job_id IN ({BATCH})"), params![list])
                .map_err(db)?;
            let mut n = tx
                .execute(
                    &format!(
                        "DELETE FROM changes WHERE id IN \
                         (SELECT id FROM changes WHERE job_id IN ({BATCH}) LIMIT ?2)"
                    ),
                    params![list, batch],
                )
                .map_err(db)?;
            let limit = batch as usize;
            if n < limit {
                n += tx
                    .execute(
                        &format!(
                            "DELETE FROM staged WHERE (job_id, object_type, object_key) IN \
                             (SELECT job_id, object_type, object_key FROM staged WHERE job_id IN ({BATCH}) LIMIT ?2)"
                        ),
                        params![list, (limit - n) as i64],
                    )
                    .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(n as u64)
        })
        .await
    }

    async fn remove_jobs(&self, jobs: &[i64]) -> Result<(u64, u64)> {
        let list = id_list(jobs);
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let lines = tx
                .execute(
                    &format!("DELETE FROM job_log WHERE job_id IN ({BATCH})"),
                    [&list],
                )
                .map_err(db)?;
            let jobs = tx
                .execute(&format!("DELETE FROM jobs WHERE id IN ({BATCH})"), [&list])
                .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok((jobs as u64, lines as u64))
        })
        .await
    }

    async fn remove_jobless_changes(&self, before: DateTime<Utc>, batch: u32) -> Result<u64> {
        let before = rows::time_text(before);
        self.write(move |c, _| {
            c.execute(
                "DELETE FROM changes WHERE id IN \
                 (SELECT id FROM changes WHERE job_id IS NULL AND at < ?1 LIMIT ?2)",
                params![before, batch],
            )
            .map(|n| n as u64)
            .map_err(db)
        })
        .await
    }
}

impl SqliteStore {
    pub(crate) async fn claim_task(
        &self,
        name: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
    ) -> Result<bool> {
        let name = name.to_string();
        self.write(move |c, _| {
            let n = c
                .execute(
                    "INSERT INTO system_tasks (name, next_due, last_run) VALUES (?1, ?3, ?2) \
                     ON CONFLICT (name) DO UPDATE SET next_due = excluded.next_due, last_run = excluded.last_run \
                     WHERE system_tasks.next_due <= ?2",
                    params![name, rows::time_text(now), rows::time_text(next_due)],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    pub(crate) async fn remove_finished_jobs(
        &self,
        before: DateTime<Utc>,
        batch: u32,
    ) -> Result<Removed> {
        let removed = retention_run(self, before, batch).await?;
        self.give_back_free_pages().await?;
        Ok(removed)
    }

    /// Returns the file's free pages to the file system, [`VACUUM_PAGES`]
    /// per write.
    async fn give_back_free_pages(&self) -> Result<()> {
        loop {
            let left: i64 = self
                .write(|c, _| {
                    c.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
                        .map_err(db)?;
                    value(c, "PRAGMA freelist_count", [])
                })
                .await?;
            if left == 0 {
                return Ok(());
            }
        }
    }
}

/// Sets the database to give free pages back on request (`PRAGMA
/// incremental_vacuum`, after a retention run): a new database is made so,
/// an older one is rewritten once (VACUUM) when this version first opens
/// it.
pub(super) fn incremental_auto_vacuum(c: &Connection) -> Result<()> {
    let mode = |c: &Connection| -> Result<i64> { value(c, "PRAGMA auto_vacuum", []) };
    if mode(c)? == 2 {
        return Ok(());
    }
    c.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
        .map_err(db)?;
    if mode(c)? != 2 {
        tracing::info!(
            "rewriting the database once, so that it can give back the space of removed jobs"
        );
        c.execute_batch("VACUUM").map_err(db)?;
    }
    Ok(())
}
