//! Jobs on PostgreSQL: the queue shared by every node (requests take turns
//! on their element's row, claims skip rows another node is claiming, the
//! init pool counts under serializable isolation) and each job's state,
//! progress and log. A job's start is the time of the write that started
//! it (`clock_timestamp()`), not its transaction's start, which may come
//! before a wait for a lock: a job claimed once another on its element has
//! ended never shows as started before that end.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};
use ucsync_core::{JobState, SyncType, Trigger};

use super::{PgStore, db, get, is_unique_violation};
use crate::model::*;
use crate::rows::{self, Columns, JOB_COLUMNS};
use crate::rules::{interrupted_line, joins, last_finished_sql};
use crate::{JobQuery, Result, StoreError};

/// How often a claim tries the next candidate after losing a race for one.
const CLAIM_ATTEMPTS: usize = 8;
/// Tries at a place in the init pool before answering "none free now" (the
/// caller looks again later).
const PLACE_ATTEMPTS: usize = 8;

/// A lease's end (`$2`) moved on by the time this transaction has waited
/// (for locks) so far.
const LEASE_FROM_NOW: &str = "$2::timestamptz + (clock_timestamp() - transaction_timestamp())";

async fn load_job(c: &impl GenericClient, id: JobId) -> Result<Option<Job>> {
    let st = c
        .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
        .await
        .map_err(db)?;
    c.query_opt(&st, &[&id])
        .await
        .map_err(db)?
        .map(|r| rows::job(&r))
        .transpose()
}

impl PgStore {
    /// One look at the init pool (see [`Store::take_init_place`]).
    async fn try_take_place(
        c: &mut deadpool_postgres::Client,
        id: JobId,
        pool: u32,
    ) -> Result<bool, tokio_postgres::Error> {
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::Serializable)
            .start()
            .await?;
        // Inits holding a place: reading, or stopping after they read (a job
        // stopped while it waited never had `started_at`).
        let taken: i64 = tx
            .query_one(
                "SELECT count(*) FROM jobs WHERE state IN ('running', 'stopping') \
                 AND started_at IS NOT NULL AND type <> 'incremental' AND id <> $1",
                &[&id],
            )
            .await?
            .get(0);
        let free = taken < i64::from(pool);
        let changed = if free {
            tx.execute(
                "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, clock_timestamp()) \
                 WHERE id = $1 AND state IN ('waiting', 'running')",
                &[&id],
            )
            .await?
        } else {
            tx.execute(
                "UPDATE jobs SET state = 'waiting', started_at = NULL \
                 WHERE id = $1 AND state IN ('waiting', 'running')",
                &[&id],
            )
            .await?
        };
        tx.commit().await?;
        Ok(free && changed == 1)
    }

    /// One try at claiming: the oldest claimable queued job not in `skip`.
    /// `Err((id, e))` with a unique violation means another node started a
    /// job of that job's element meanwhile.
    async fn try_claim(
        c: &mut deadpool_postgres::Client,
        node: &str,
        lease_until: DateTime<Utc>,
        skip: &[i64],
    ) -> Result<Option<Row>, (Option<i64>, tokio_postgres::Error)> {
        let tx = c.transaction().await.map_err(|e| (None, e))?;
        // Skip locked: a locked row is a job another node is claiming right
        // now. A later queued job of the same element stays out, because the
        // one being claimed still looks queued and older.
        let st = tx
            .prepare_cached(
                "SELECT j.id FROM jobs j \
                 WHERE j.state = 'queued' AND j.id <> ALL($1) \
                   AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.element = j.element AND r.state IN ('waiting', 'running', 'stopping')) \
                   AND NOT EXISTS (SELECT 1 FROM jobs q WHERE q.element = j.element AND q.state = 'queued' AND q.id < j.id) \
                 ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
            )
            .await
            .map_err(|e| (None, e))?;
        let Some(row) = tx.query_opt(&st, &[&skip]).await.map_err(|e| (None, e))? else {
            return Ok(None);
        };
        let id: i64 = row.get(0);
        let st = tx
            .prepare_cached(&format!(
                "UPDATE jobs SET state = CASE type WHEN 'incremental' THEN 'running' ELSE 'waiting' END, node = $2, \
                   lease_until = $3::timestamptz + (clock_timestamp() - transaction_timestamp()), \
                   started_at = CASE type WHEN 'incremental' THEN clock_timestamp() END \
                 WHERE id = $1 RETURNING {JOB_COLUMNS}"
            ))
            .await
            .map_err(|e| (Some(id), e))?;
        let row = tx
            .query_one(&st, &[&id, &node, &lease_until])
            .await
            .map_err(|e| (Some(id), e))?;
        tx.commit().await.map_err(|e| (Some(id), e))?;
        Ok(Some(row))
    }

    pub(crate) async fn request_job(&self, job: &NewJob) -> Result<Requested> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        // Requests on one element take turns on its row, so two can never
        // both find nothing to join and both queue a job.
        let element = tx
            .query_opt(
                "SELECT id FROM elements WHERE name = $1 FOR UPDATE",
                &[&job.element.as_str()],
            )
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::NoElement(job.element.to_string()))?;
        let element_id: i64 = get(&element, 0)?;
        // The element's open jobs, the waiting or running one first, then
        // the queued ones, oldest first.
        let st = tx
            .prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE element = $1 \
                 AND state IN ('waiting', 'running', 'stopping', 'queued') ORDER BY state = 'queued', id"
            ))
            .await
            .map_err(db)?;
        let open = tx
            .query(&st, &[&job.element.as_str()])
            .await
            .map_err(db)?
            .iter()
            .map(rows::job)
            .collect::<Result<Vec<_>>>()?;
        let out = match open
            .into_iter()
            .find(|j| joins(j, job.requested, job.dry_run))
        {
            Some(j) => Requested {
                job: j,
                joined: true,
            },
            None => {
                let st = tx
                    .prepare_cached(&format!(
                        "INSERT INTO jobs (element_id, element, requested, type, trigger, requested_by, state, created_at, dry_run) \
                         VALUES ($1, $2, $3, $3, $4, $5, 'queued', now(), $6) RETURNING {JOB_COLUMNS}"
                    ))
                    .await
                    .map_err(db)?;
                let r = tx
                    .query_one(
                        &st,
                        &[
                            &element_id,
                            &job.element.as_str(),
                            &job.requested.as_str(),
                            &job.trigger.as_str(),
                            &job.requested_by,
                            &job.dry_run,
                        ],
                    )
                    .await
                    .map_err(db)?;
                Requested {
                    job: rows::job(&r)?,
                    joined: false,
                }
            }
        };
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    pub(crate) async fn claim_job(
        &self,
        node: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        let asked = Utc::now();
        let mut c = self.client().await?;
        // The wait for a connection does not shorten the lease, nor (in
        // the statement) the wait for a lock.
        let lease_until = lease_until + (Utc::now() - asked);
        let mut skip: Vec<i64> = Vec::new();
        for _ in 0..CLAIM_ATTEMPTS {
            match PgStore::try_claim(&mut c, node, lease_until, &skip).await {
                Ok(None) => return Ok(None),
                Ok(Some(row)) => return rows::job(&row).map(Some),
                // Another node started a job of that element after this
                // transaction's look: the index refused a second one. That
                // candidate is not claimable now; the next may be.
                Err((Some(id), e)) if is_unique_violation(&e, "jobs_one_running") => skip.push(id),
                Err((_, e)) => return Err(db(e)),
            }
        }
        Ok(None)
    }

    pub(crate) async fn take_init_place(&self, id: JobId, pool: u32) -> Result<bool> {
        let mut c = self.client().await?;
        // Serializable: of two nodes counting the same free place at once,
        // one commits and the other fails and counts again.
        for _ in 0..PLACE_ATTEMPTS {
            match PgStore::try_take_place(&mut c, id, pool).await {
                Err(e) if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) => continue,
                r => return r.map_err(db),
            }
        }
        Ok(false)
    }

    pub(crate) async fn renew_leases(
        &self,
        node: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<JobId>> {
        let asked = Utc::now();
        let mut c = self.client().await?;
        // Neither the wait for a connection nor (in the transaction) the
        // wait for a lock shortens the lease: a slow database cannot make a
        // live job look dead.
        let lease_until = lease_until + (Utc::now() - asked);
        let tx = c.transaction().await.map_err(db)?;
        let st = tx
            .prepare_cached(&format!(
                "UPDATE jobs SET lease_until = {LEASE_FROM_NOW} WHERE node = $1 AND state IN ('waiting', 'running', 'stopping') RETURNING id, state"
            ))
            .await
            .map_err(db)?;
        let mut out = Vec::new();
        for r in tx.query(&st, &[&node, &lease_until]).await.map_err(db)? {
            if get::<&str>(&r, 1)? == JobState::Stopping.as_str() {
                out.push(get(&r, 0)?);
            }
        }
        tx.execute(
            &format!(
                "UPDATE nodes SET alive_until = {LEASE_FROM_NOW}, heartbeat_at = now() WHERE name = $1"
            ),
            &[&node, &lease_until],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        out.sort_unstable();
        Ok(out)
    }

    pub(crate) async fn fail_interrupted(
        &self,
        node: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobId>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let found = tx
            .query(
                "UPDATE jobs SET state = 'failed', error = 'interrupted', finished_at = now() \
                 WHERE state IN ('waiting', 'running', 'stopping') AND (lease_until < $2 OR ($1::text IS NOT NULL AND node = $1)) \
                 RETURNING id, node, lease_until",
                &[&node, &now],
            )
            .await
            .map_err(db)?;
        let mut gone: Vec<(JobId, String)> = Vec::with_capacity(found.len());
        for r in &found {
            let owner: Option<&str> = get(r, 1)?;
            let line = interrupted_line(node, owner, r.time_opt(2)?);
            gone.push((get(r, 0)?, line));
        }
        gone.sort_unstable();
        if !gone.is_empty() {
            let ids: Vec<JobId> = gone.iter().map(|(id, _)| *id).collect();
            let lines: Vec<&str> = gone.iter().map(|(_, l)| l.as_str()).collect();
            tx.execute(
                "INSERT INTO job_log (job_id, at, line) SELECT id, now(), line FROM unnest($1::bigint[], $2::text[]) AS u(id, line)",
                &[&ids, &lines],
            )
            .await
            .map_err(db)?;
            tx.execute("DELETE FROM staged WHERE job_id = ANY($1)", &[&ids])
                .await
                .map_err(db)?;
            tx.execute("DELETE FROM plans WHERE job_id = ANY($1)", &[&ids])
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(gone.into_iter().map(|(id, _)| id).collect())
    }

    pub(crate) async fn stop_job(&self, id: JobId) -> Result<Option<Job>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "UPDATE jobs SET state = CASE state WHEN 'queued' THEN 'stopped' ELSE 'stopping' END, \
                   error = CASE state WHEN 'queued' THEN 'stopped before it started' ELSE error END, \
                   finished_at = CASE state WHEN 'queued' THEN now() ELSE finished_at END \
                 WHERE id = $1 AND state IN ('queued', 'waiting', 'running') RETURNING {JOB_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        match c.query_opt(&st, &[&id]).await.map_err(db)? {
            Some(r) => rows::job(&r).map(Some),
            None => load_job(&c, id).await,
        }
    }

    pub(crate) async fn create_job(
        &self,
        job: &NewJob,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<Job> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(&format!(
                "INSERT INTO jobs (element_id, element, requested, type, reason, trigger, requested_by, state, created_at, dry_run) \
                 VALUES ((SELECT id FROM elements WHERE name = $1), $1, $2, $3, $4, $5, $6, 'queued', now(), $7) \
                 RETURNING {JOB_COLUMNS}"
            ))
            .await
            .map_err(db)?;
        let r = c
            .query_one(
                &st,
                &[
                    &job.element.as_str(),
                    &job.requested.as_str(),
                    &sync_type.as_str(),
                    &reason,
                    &job.trigger.as_str(),
                    &job.requested_by,
                    &job.dry_run,
                ],
            )
            .await
            .map_err(db)?;
        rows::job(&r)
    }

    pub(crate) async fn job(&self, id: JobId) -> Result<Option<Job>> {
        load_job(&self.client().await?, id).await
    }

    pub(crate) async fn find_jobs(
        &self,
        q: &JobQuery,
        offset_: u64,
        limit_: u64,
    ) -> Result<Vec<Job>> {
        let c = self.client().await?;
        let sync_type = q.sync_type.map(SyncType::as_str);
        let trigger = q.trigger.map(Trigger::as_str);
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE true");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(e) = &q.element {
            params.push(e);
            sql.push_str(&format!(" AND element = ${}", params.len()));
        }
        if !q.states.is_empty() {
            sql.push_str(&format!(" AND state IN ({})", rows::state_list(&q.states)));
        }
        if let Some(t) = &sync_type {
            params.push(t);
            sql.push_str(&format!(" AND type = ${}", params.len()));
        }
        if let Some(t) = &trigger {
            params.push(t);
            sql.push_str(&format!(" AND trigger = ${}", params.len()));
        }
        let (lim, off) = (rows::sql_limit(limit_), rows::sql_count(offset_));
        params.push(&lim);
        params.push(&off);
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT ${} OFFSET ${}",
            params.len() - 1,
            params.len()
        ));
        let st = c.prepare_cached(&sql).await.map_err(db)?;
        let found = c.query(&st, &params).await.map_err(db)?;
        found.iter().map(rows::job).collect()
    }

    pub(crate) async fn last_finished_jobs(&self, element: Option<&str>) -> Result<Vec<Job>> {
        let c = self.client().await?;
        let found = match element {
            Some(e) => {
                let st = c
                    .prepare_cached(&last_finished_sql("SELECT $1::text AS element"))
                    .await
                    .map_err(db)?;
                c.query(&st, &[&e]).await
            }
            None => {
                let st = c
                    .prepare_cached(&last_finished_sql("SELECT DISTINCT element FROM jobs"))
                    .await
                    .map_err(db)?;
                c.query(&st, &[]).await
            }
        }
        .map_err(db)?;
        found.iter().map(rows::job).collect()
    }

    pub(crate) async fn set_job_state(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> Result<()> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "UPDATE jobs SET state = $2, error = coalesce($3, error), \
                   started_at = CASE WHEN $2 = 'running' AND started_at IS NULL THEN clock_timestamp() ELSE started_at END, \
                   finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'stopped') THEN now() ELSE finished_at END \
                 WHERE id = $1",
            )
            .await
            .map_err(db)?;
        match c.execute(&st, &[&id, &state.as_str(), &error]).await {
            Ok(0) => Err(StoreError::NoJob(id)),
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e, "jobs_one_running") => Err(StoreError::Database(
                format!("job {id} cannot run: another job of its element is running"),
            )),
            Err(e) => Err(db(e)),
        }
    }

    pub(crate) async fn set_job_type(
        &self,
        id: JobId,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE jobs SET type = $2, reason = $3 WHERE id = $1",
            &[&id, &sync_type.as_str(), &reason],
        )
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn set_job_progress(
        &self,
        id: JobId,
        progress: &Progress,
        counts: &JobCounts,
    ) -> Result<()> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("UPDATE jobs SET progress = $2, counts = $3 WHERE id = $1")
            .await
            .map_err(db)?;
        c.execute(&st, &[&id, &Json(progress), &Json(counts)])
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn job_log(&self, id: JobId, line: &str) -> Result<()> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("INSERT INTO job_log (job_id, at, line) VALUES ($1, now(), $2)")
            .await
            .map_err(db)?;
        c.execute(&st, &[&id, &line]).await.map_err(db)?;
        Ok(())
    }

    pub(crate) async fn job_log_lines(&self, id: JobId) -> Result<Vec<String>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached("SELECT line FROM job_log WHERE job_id = $1 ORDER BY id")
            .await
            .map_err(db)?;
        c.query(&st, &[&id])
            .await
            .map_err(db)?
            .iter()
            .map(|r| get(r, 0))
            .collect()
    }
}
