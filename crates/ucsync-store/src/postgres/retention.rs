//! Retention on PostgreSQL: the claim of a cluster-wide task's run (an
//! upsert whose update holds the task's row, so that of several nodes
//! exactly one wins a turn), and the removal of old finished jobs in short
//! transactions (their order is `rules::retention_run`). PostgreSQL's
//! autovacuum reuses the space.

use chrono::{DateTime, Utc};

use super::{PgStore, db};
use crate::Result;
use crate::model::Removed;
use crate::rules::{RetentionSteps, kept_jobs_sql, retention_run};

impl RetentionSteps for PgStore {
    async fn old_jobs(&self, before: DateTime<Utc>, batch: u32) -> Result<Vec<i64>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'stopped') AND finished_at < $1 \
                     AND id NOT IN ({kept}) ORDER BY id LIMIT $2",
                    kept = kept_jobs_sql()
                ),
                &[&before, &i64::from(batch)],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn remove_records(&self, jobs: &[i64], batch: u32) -> Result<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // A plan goes before any of its rows: never applied half.
        tx.execute("DELETE FROM plans WHERE job_id = ANY($1)", &[&jobs])
            .await
            .map_err(db)?;
        let mut n = tx
            .execute(
                "DELETE FROM changes WHERE id IN \
                 (SELECT id FROM changes WHERE job_id = ANY($1) LIMIT $2)",
                &[&jobs, &i64::from(batch)],
            )
            .await
            .map_err(db)?;
        if n < u64::from(batch) {
            let rest = i64::from(batch) - i64::try_from(n).unwrap_or(0);
            n += tx
                .execute(
                    "DELETE FROM staged WHERE (job_id, object_type, object_key) IN \
                     (SELECT job_id, object_type, object_key FROM staged WHERE job_id = ANY($1) LIMIT $2)",
                    &[&jobs, &rest],
                )
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(n)
    }

    async fn remove_jobs(&self, jobs: &[i64]) -> Result<(u64, u64)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let lines = tx
            .execute("DELETE FROM job_log WHERE job_id = ANY($1)", &[&jobs])
            .await
            .map_err(db)?;
        let removed = tx
            .execute("DELETE FROM jobs WHERE id = ANY($1)", &[&jobs])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok((removed, lines))
    }

    async fn remove_jobless_changes(&self, before: DateTime<Utc>, batch: u32) -> Result<u64> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM changes WHERE id IN \
             (SELECT id FROM changes WHERE job_id IS NULL AND at < $1 LIMIT $2)",
            &[&before, &i64::from(batch)],
        )
        .await
        .map_err(db)
    }
}

impl PgStore {
    pub(crate) async fn claim_task(
        &self,
        name: &str,
        now: DateTime<Utc>,
        next_due: DateTime<Utc>,
    ) -> Result<bool> {
        let c = self.client().await?;
        // Two nodes inserting the missing row at once: the second waits for
        // the first, then sees its row, whose next run is not due.
        let n = c
            .execute(
                "INSERT INTO system_tasks (name, next_due, last_run) VALUES ($1, $3, $2) \
                 ON CONFLICT (name) DO UPDATE SET next_due = EXCLUDED.next_due, last_run = EXCLUDED.last_run \
                 WHERE system_tasks.next_due <= $2",
                &[&name, &now, &next_due],
            )
            .await
            .map_err(db)?;
        Ok(n == 1)
    }

    pub(crate) async fn remove_finished_jobs(
        &self,
        before: DateTime<Utc>,
        batch: u32,
    ) -> Result<Removed> {
        retention_run(self, before, batch).await
    }
}
