//! Jobs on SQLite: the queue (requests, claims, the init pool, leases,
//! interrupted jobs, stops) and each job's state, progress and log. The one
//! writer serializes every write, so a read then a write in one transaction
//! is all the queue needs.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use ucsync_core::{JobState, SyncType};

use super::{SqliteStore, all, db, first, now};
use crate::model::*;
use crate::rows::{self, Columns, JOB_COLUMNS};
use crate::rules::{interrupted_line, joins, last_finished_sql};
use crate::{JobQuery, Result, StoreError};

pub(super) fn load_job(c: &Connection, id: JobId) -> Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
    first(c, &sql, [id], |r| rows::job(r))
}

/// The states in which a job holds its element. Queries say it in these
/// very words, which is what lets SQLite use the partial indexes on them.
const ACTIVE: &str = "state IN ('waiting', 'running', 'stopping')";

fn active_job_sql() -> String {
    format!("SELECT {JOB_COLUMNS} FROM jobs WHERE element = ?1 AND {ACTIVE}")
}

/// A page of the jobs `q` selects, newest first, and its parameters. The
/// statement names only the filters given: with `?1 IS NULL OR element = ?1`
/// no index applied, and a page of one element's jobs read the table
/// backwards through every other element's jobs. States are written as
/// literals (they come from the enum), so the index on states applies.
fn find_jobs_sql(q: &JobQuery, offset: u64, limit: u64) -> (String, Vec<Value>) {
    let mut filters = Vec::new();
    let mut p = Vec::new();
    if let Some(e) = &q.element {
        p.push(Value::Text(e.clone()));
        filters.push(format!("element = ?{}", p.len()));
    }
    if !q.states.is_empty() {
        // Finished jobs are most of the table: several states with one of
        // them read it newest first and stop at the page (`+state` keeps
        // the state index out), rather than sort every finished job. Open
        // jobs are few: their index, then a small sort.
        let many_finished = q.states.len() > 1 && q.states.iter().any(|s| s.is_finished());
        let column = if many_finished { "+state" } else { "state" };
        filters.push(format!("{column} IN ({})", rows::state_list(&q.states)));
    }
    if let Some(t) = q.sync_type {
        p.push(Value::Text(t.as_str().into()));
        filters.push(format!("type = ?{}", p.len()));
    }
    if let Some(t) = q.trigger {
        p.push(Value::Text(t.as_str().into()));
        filters.push(format!("trigger = ?{}", p.len()));
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    p.push(Value::Integer(rows::sql_limit(limit)));
    p.push(Value::Integer(rows::sql_count(offset)));
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs {filter} ORDER BY id DESC LIMIT ?{} OFFSET ?{}",
        p.len() - 1,
        p.len()
    );
    (sql, p)
}

fn queued_jobs_sql() -> String {
    format!("SELECT {JOB_COLUMNS} FROM jobs WHERE element = ?1 AND state = 'queued' ORDER BY id")
}

/// The oldest queued job whose element holds no job. The oldest queued job
/// of an element is also the oldest of those of its element, so "no older
/// queued job on the element" needs no test of its own.
const CLAIM_SQL: &str = "SELECT id FROM jobs j WHERE state = 'queued' \
     AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.element = j.element AND r.state IN ('waiting', 'running', 'stopping')) \
     ORDER BY id LIMIT 1";

/// Inits holding a place in the pool: reading, or stopping after they read
/// (a job stopped while it waited never had `started_at`).
const INIT_PLACES_SQL: &str = "SELECT count(*) FROM jobs WHERE state IN ('running', 'stopping') \
     AND started_at IS NOT NULL AND type <> 'incremental' AND id <> ?1";

const LOG_SQL: &str = "INSERT INTO job_log (job_id, seq, at, line) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM job_log WHERE job_id = ?1), ?2, ?3)";

impl SqliteStore {
    pub(crate) async fn create_job(
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
                    "INSERT INTO jobs (element_id, element, requested, type, reason, trigger, requested_by, state, created_at, dry_run) \
                     VALUES ((SELECT id FROM elements WHERE name = ?1), ?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8)",
                    params![job.element.as_str(), job.requested.as_str(), sync_type.as_str(), reason, job.trigger.as_str(), job.requested_by, now(), job.dry_run],
                )
                .map_err(db)?;
                Ok(JobId(c.last_insert_rowid()))
            })
            .await?;
        self.job(id).await?.ok_or(StoreError::NoJob(id))
    }

    pub(crate) async fn job(&self, id: JobId) -> Result<Option<Job>> {
        self.read(move |c, _| load_job(c, id)).await
    }

    pub(crate) async fn find_jobs(
        &self,
        q: &JobQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Job>> {
        let (sql, p) = find_jobs_sql(q, offset, limit);
        self.read(move |c, _| {
            let mut st = c.prepare_cached(&sql).map_err(db)?;
            all(&mut st, params_from_iter(p), rows::job)
        })
        .await
    }

    pub(crate) async fn last_finished_jobs(&self, element: Option<&str>) -> Result<Vec<Job>> {
        let element = element.map(str::to_string);
        self.read(move |c, _| match element {
            Some(e) => {
                let mut st = c
                    .prepare_cached(&last_finished_sql("SELECT ?1 AS element"))
                    .map_err(db)?;
                all(&mut st, [e], rows::job)
            }
            None => {
                let mut st = c
                    .prepare_cached(&last_finished_sql("SELECT DISTINCT element FROM jobs"))
                    .map_err(db)?;
                all(&mut st, [], rows::job)
            }
        })
        .await
    }

    pub(crate) async fn set_job_state(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> Result<()> {
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

    pub(crate) async fn set_job_type(
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

    pub(crate) async fn set_job_progress(
        &self,
        id: JobId,
        progress: &Progress,
        counts: &JobCounts,
    ) -> Result<()> {
        let p = rows::json_text(progress);
        let n = rows::json_text(counts);
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

    pub(crate) async fn job_log(&self, id: JobId, line: &str) -> Result<()> {
        let line = line.to_string();
        self.write(move |c, _| {
            c.execute(LOG_SQL, params![id, now(), line])
                .map(|_| ())
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn job_log_lines(&self, id: JobId) -> Result<Vec<String>> {
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

    pub(crate) async fn request_job(&self, job: &NewJob) -> Result<Requested> {
        let job = job.clone();
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let element: Option<i64> = tx
                .query_row("SELECT id FROM elements WHERE name = ?1", [job.element.as_str()], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let element = element.ok_or_else(|| StoreError::NoElement(job.element.to_string()))?;
            // The running job first, then the queued ones. Two queries, each
            // on an index of open jobs only, so that an element's history of
            // finished jobs is not read.
            let mut joinable = None;
            for sql in [active_job_sql(), queued_jobs_sql()] {
                let mut st = tx.prepare_cached(&sql).map_err(db)?;
                let open = all(&mut st, [job.element.as_str()], rows::job)?;
                joinable = open.into_iter().find(|j| joins(j, job.requested, job.dry_run));
                if joinable.is_some() {
                    break;
                }
            }
            if let Some(j) = joinable {
                return Ok(Requested { job: j, joined: true });
            }
            tx.execute(
                "INSERT INTO jobs (element_id, element, requested, type, reason, trigger, requested_by, state, created_at, dry_run) \
                 VALUES (?1, ?2, ?3, ?3, NULL, ?4, ?5, 'queued', ?6, ?7)",
                params![element, job.element.as_str(), job.requested.as_str(), job.trigger.as_str(), job.requested_by, now(), job.dry_run],
            )
            .map_err(db)?;
            let id = JobId(tx.last_insert_rowid());
            let j = load_job(&tx, id)?.ok_or(StoreError::NoJob(id))?;
            tx.commit().map_err(db)?;
            Ok(Requested { job: j, joined: false })
        })
        .await
    }

    pub(crate) async fn claim_job(
        &self,
        node: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        let node = node.to_string();
        let asked = Utc::now();
        self.write(move |c, _| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let lease_until = lease_until + (Utc::now() - asked);
            let id: Option<JobId> = tx
                .prepare_cached(CLAIM_SQL)
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .optional()
                .map_err(db)?;
            let Some(id) = id else { return Ok(None) };
            tx.execute(
                "UPDATE jobs SET state = CASE type WHEN 'incremental' THEN 'running' ELSE 'waiting' END, \
                   started_at = CASE type WHEN 'incremental' THEN ?2 END, node = ?3, lease_until = ?4 WHERE id = ?1",
                params![id, now(), node, rows::time_text(lease_until)],
            )
            .map_err(db)?;
            let j = load_job(&tx, id)?;
            tx.commit().map_err(db)?;
            Ok(j)
        })
        .await
    }

    pub(crate) async fn take_init_place(&self, id: JobId, pool: u32) -> Result<bool> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let taken: u32 = tx
                .prepare_cached(INIT_PLACES_SQL)
                .map_err(db)?
                .query_row([id], |r| r.get(0))
                .map_err(db)?;
            let free = taken < pool;
            let changed = if free {
                tx.execute(
                    "UPDATE jobs SET state = 'running', started_at = coalesce(started_at, ?2) \
                     WHERE id = ?1 AND state IN ('waiting', 'running')",
                    params![id, now()],
                )
            } else {
                tx.execute(
                    "UPDATE jobs SET state = 'waiting', started_at = NULL \
                     WHERE id = ?1 AND state IN ('waiting', 'running')",
                    [id],
                )
            }
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(free && changed == 1)
        })
        .await
    }

    pub(crate) async fn renew_leases(
        &self,
        node: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<JobId>> {
        let node = node.to_string();
        let asked = Utc::now();
        self.write(move |c, _| {
            // The write lock first, then the lease's end: the time spent
            // waiting for the writer does not shorten the lease.
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let lease_until = rows::time_text(lease_until + (Utc::now() - asked));
            tx.execute(
                &format!("UPDATE jobs SET lease_until = ?2 WHERE node = ?1 AND {ACTIVE}"),
                params![node, lease_until],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE nodes SET alive_until = ?2, heartbeat_at = ?3 WHERE name = ?1",
                params![node, lease_until, now()],
            )
            .map_err(db)?;
            let mut st = tx
                .prepare(&format!("SELECT id FROM jobs WHERE node = ?1 AND {ACTIVE} AND state = 'stopping' ORDER BY id"))
                .map_err(db)?;
            let stopping = all(&mut st, [&node], |r| r.get(0).map_err(db))?;
            drop(st);
            tx.commit().map_err(db)?;
            Ok(stopping)
        })
        .await
    }

    pub(crate) async fn fail_interrupted(
        &self,
        node: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobId>> {
        let node = node.map(str::to_string);
        self.write(move |c, _| {
            let at = rows::time_text(now);
            let tx = c.transaction().map_err(db)?;
            let mut st = tx
                .prepare(&format!(
                    "SELECT id, node, lease_until FROM jobs WHERE {ACTIVE} AND (lease_until < ?1 OR node = ?2) ORDER BY id"
                ))
                .map_err(db)?;
            let gone = all(&mut st, params![at, node], |r| {
                Ok((JobId(r.int(0)?), r.text_opt(1)?, r.time_opt(2)?))
            })?;
            drop(st);
            for (id, owner, lease) in &gone {
                let line = interrupted_line(node.as_deref(), owner.as_deref(), *lease);
                tx.execute(LOG_SQL, params![id, at, line]).map_err(db)?;
                tx.execute("DELETE FROM staged WHERE job_id = ?1", [id]).map_err(db)?;
                tx.execute("DELETE FROM plans WHERE job_id = ?1", [id]).map_err(db)?;
                tx.execute(
                    "UPDATE jobs SET state = 'failed', error = 'interrupted', finished_at = ?2 WHERE id = ?1",
                    params![id, at],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(gone.into_iter().map(|(id, ..)| id).collect())
        })
        .await
    }

    pub(crate) async fn stop_job(&self, id: JobId) -> Result<Option<Job>> {
        self.write(move |c, _| {
            let tx = c.transaction().map_err(db)?;
            let Some(j) = load_job(&tx, id)? else { return Ok(None) };
            match j.state {
                JobState::Queued => {
                    tx.execute(
                        "UPDATE jobs SET state = 'stopped', error = 'stopped before it started', finished_at = ?2 WHERE id = ?1",
                        params![id, now()],
                    )
                    .map_err(db)?;
                }
                JobState::Waiting | JobState::Running => {
                    tx.execute("UPDATE jobs SET state = 'stopping' WHERE id = ?1", [id]).map_err(db)?;
                }
                _ => return Ok(Some(j)),
            }
            let j = load_job(&tx, id)?;
            tx.commit().map_err(db)?;
            Ok(j)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::migrate;
    use crate::sqlite::search::tests::plan;

    /// The queue's queries read open jobs only, never an element's history.
    #[test]
    fn queue_plans_use_the_indexes_of_open_jobs() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let active = plan(&c, &active_job_sql());
        assert!(
            active.contains("INDEX jobs_one_running (element=?)"),
            "{active}"
        );
        let queued = plan(&c, &queued_jobs_sql());
        assert!(queued.contains("INDEX jobs_queued (element=?)"), "{queued}");
        assert!(!queued.contains("TEMP B-TREE"), "{queued}");
        let claim = plan(&c, CLAIM_SQL);
        assert!(claim.contains("INDEX jobs_by_state (state=?)"), "{claim}");
        assert!(
            claim.contains("INDEX jobs_one_running (element=?)"),
            "{claim}"
        );
        assert!(!claim.contains("TEMP B-TREE"), "{claim}");
    }

    /// A page of jobs reads its filter's index newest first, sorting nothing;
    /// a view of several states reads the state index (few open jobs) or the
    /// table newest first (the finished ones, most of it).
    #[test]
    fn job_pages_use_the_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let q = |element: bool, states: &[JobState]| JobQuery {
            element: element.then(|| "cm1".to_string()),
            states: states.to_vec(),
            ..JobQuery::default()
        };
        for (query, index, sorts) in [
            (q(false, &[]), "SCAN jobs", false),
            (q(true, &[]), "INDEX jobs_by_element (element=?)", false),
            (
                q(false, &[JobState::Failed]),
                "INDEX jobs_by_state (state=?)",
                false,
            ),
            (
                JobQuery {
                    sync_type: Some(SyncType::Init),
                    trigger: Some(ucsync_core::Trigger::OnDemand),
                    ..q(true, &[])
                },
                "INDEX jobs_by_element (element=?)",
                false,
            ),
        ] {
            let p = plan(&c, &find_jobs_sql(&query, 0, 10).0);
            assert!(p.contains(index), "{query:?}: {p}");
            assert_eq!(p.contains("TEMP B-TREE"), sorts, "{query:?}: {p}");
        }
        let open = plan(
            &c,
            &find_jobs_sql(&q(false, &[JobState::Queued, JobState::Waiting]), 0, 10).0,
        );
        assert!(open.contains("INDEX jobs_by_state (state=?)"), "{open}");
        let finished = [JobState::Stopped, JobState::Succeeded, JobState::Failed];
        let done = plan(&c, &find_jobs_sql(&q(false, &finished), 0, 10).0);
        assert!(
            done.contains("SCAN jobs") && !done.contains("TEMP B-TREE"),
            "{done}"
        );
    }
}
