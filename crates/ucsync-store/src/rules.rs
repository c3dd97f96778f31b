//! The store's rules that are not SQL, for both backends: which job a
//! request joins, how an object's identity is stored and split for a
//! parallel load, how search's prefix is matched, how often a token's use
//! is recorded, what an interrupted job's log says, and which jobs
//! retention keeps and in which order its transactions run.

use std::future::Future;

use chrono::{DateTime, Utc};
use ucsync_core::{HashIndex, HashIndexBuilder, JobState, ObjectId, SyncType, key_digest};

use crate::Result;
use crate::model::Job;
use crate::rows::{JOB_COLUMNS, time_text};

/// A digest as stored: big-endian, so that blobs sort as the digests do.
pub(crate) fn digest_blob(d: u128) -> [u8; 16] {
    d.to_be_bytes()
}

/// The stored identity digest of an object (see `ucsync_core::key_digest`).
pub(crate) fn id_digest(id: &ObjectId) -> [u8; 16] {
    digest_blob(key_digest(&id.object_type, &id.key))
}

/// How many digest ranges an init's load reads in parallel: one per core,
/// at most `max`.
fn load_parts(max: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, max.max(1))
}

/// An element's stored index, read in digest ranges at once (as many as
/// [`load_parts`] allows of `max`): `part(lo, hi)` reads the range between
/// the inclusive bounds, in digest order, so the parts joined in order are
/// sorted.
pub(crate) async fn load_index<F>(
    max: usize,
    part: impl Fn([u8; 16], [u8; 16]) -> F,
) -> Result<HashIndex>
where
    F: Future<Output = Result<HashIndexBuilder>>,
{
    let n = load_parts(max);
    let parts = (0..n).map(|i| {
        let (lo, hi) = digest_range(i, n);
        part(lo, hi)
    });
    let mut all = HashIndexBuilder::default();
    for p in futures::future::try_join_all(parts).await? {
        all.append(p);
    }
    Ok(all.build())
}

/// The inclusive bounds of part `i` of `n` of the digest space, as stored
/// blobs. Inclusive, so that every part is one bounded range of the index.
fn digest_range(i: usize, n: usize) -> ([u8; 16], [u8; 16]) {
    let step = u128::MAX / n as u128 + 1;
    let lo = step * i as u128;
    let hi = if i + 1 < n {
        step * (i as u128 + 1) - 1
    } else {
        u128::MAX
    };
    (digest_blob(lo), digest_blob(hi))
}

/// The `LIKE` pattern of "starts with `text`": its wildcards (and the
/// escape, `\`) taken literally.
pub(crate) fn like_prefix(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 1);
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// Whether a request for `requested` joins the open job `existing` rather
/// than queue a job of its own: a job that is not stopping, asked for with
/// the same or greater strength. Requests try the element's waiting or
/// running job first (joining it gives the answer soonest), then its
/// queued jobs, oldest first.
/// A preview joins only a preview, and a sync only a sync.
pub(crate) fn joins(existing: &Job, requested: SyncType, dry_run: bool) -> bool {
    existing.state != JobState::Stopping
        && existing.dry_run == dry_run
        && existing.requested.strength() >= requested.strength()
}

/// How often a token's use is recorded. Every API request looks its token
/// up; a write each time queued every request behind one writer (SQLite)
/// or one row lock (PostgreSQL).
pub(crate) const TOKEN_USE_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// How often a console session's use is recorded: a session idle for its
/// timeout ends, give or take this.
pub(crate) const SESSION_SEEN_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The log line of a job failed as interrupted: its node `owner` restarted
/// (it is `node`, the one failing its jobs) or stopped renewing the lease
/// that ended at `lease`.
pub(crate) fn interrupted_line(
    node: Option<&str>,
    owner: Option<&str>,
    lease: Option<DateTime<Utc>>,
) -> String {
    let restarted = owner.is_some() && owner == node;
    let owner = owner.unwrap_or("?");
    if restarted {
        format!("failed: interrupted (node {owner} restarted while it ran)")
    } else {
        let lease = lease.map_or_else(|| "?".to_string(), time_text);
        format!(
            "failed: interrupted (node {owner} stopped renewing its lease, which ended at {lease})"
        )
    }
}

/// An element's newest finished job that ran, as SQL both backends run: the
/// id of the element named by `n.element`'s newest job that succeeded,
/// failed or was stopped after it started, one seek in the index
/// `jobs_finished`. It is what an element's status reads (see
/// `last_finished_jobs`). A preview whose plan was not applied
/// synchronized nothing: it is not one of them.
const NEWEST_RAN_SQL: &str = "SELECT j.id FROM jobs j WHERE j.element = n.element \
     AND j.state IN ('succeeded', 'failed', 'stopped') AND j.started_at IS NOT NULL \
     AND (j.dry_run = false OR j.applied_at IS NOT NULL) \
     ORDER BY j.finished_at DESC, j.id DESC LIMIT 1";

/// The jobs of [`NEWEST_RAN_SQL`] of every element `names` (a query of
/// one column, `element`) names that has one, by element.
pub(crate) fn last_finished_sql(names: &str) -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT ({NEWEST_RAN_SQL}) FROM ({names}) n) \
         ORDER BY element"
    )
}

/// The jobs retention keeps whatever their age: each element's
/// [`NEWEST_RAN_SQL`], so removing old jobs never changes how an element
/// stands.
pub(crate) fn kept_jobs_sql() -> String {
    format!(
        "SELECT id FROM (SELECT ({NEWEST_RAN_SQL}) AS id FROM (SELECT DISTINCT element FROM jobs) n) kept \
         WHERE id IS NOT NULL"
    )
}

/// The transactions of a retention run, each backend's SQL; the order
/// they run in is [`retention_run`].
pub(crate) trait RetentionSteps {
    /// Up to `batch` finished jobs that finished before `before` and are not
    /// kept ([`kept_jobs_sql`]), oldest first.
    async fn old_jobs(&self, before: DateTime<Utc>, batch: u32) -> Result<Vec<i64>>;
    /// Removes up to `batch` change records and staged rows of `jobs`;
    /// answers how many.
    async fn remove_records(&self, jobs: &[i64], batch: u32) -> Result<u64>;
    /// Removes `jobs` and their log lines: (jobs, log lines).
    async fn remove_jobs(&self, jobs: &[i64]) -> Result<(u64, u64)>;
    /// Removes up to `batch` change records of no job (notify sync's) made
    /// before `before`; answers how many.
    async fn remove_jobless_changes(&self, before: DateTime<Utc>, batch: u32) -> Result<u64>;
}

/// A retention run (see `Store::remove_finished_jobs`), one short
/// transaction at a time: a batch of old jobs, their records `batch` at a
/// time, then the jobs with their log lines — so a run cut short leaves no
/// record without its job — and at last the change records of no job.
pub(crate) async fn retention_run(
    steps: &impl RetentionSteps,
    before: DateTime<Utc>,
    batch: u32,
) -> Result<crate::model::Removed> {
    let batch = batch.max(1);
    let mut removed = crate::model::Removed::default();
    loop {
        let jobs = steps.old_jobs(before, batch).await?;
        if jobs.is_empty() {
            break;
        }
        loop {
            let n = steps.remove_records(&jobs, batch).await?;
            removed.changes += n;
            if n < u64::from(batch) {
                break;
            }
        }
        let (j, lines) = steps.remove_jobs(&jobs).await?;
        removed.jobs += j;
        removed.log_lines += lines;
    }
    loop {
        let n = steps.remove_jobless_changes(before, batch).await?;
        removed.changes += n;
        if n < u64::from(batch) {
            return Ok(removed);
        }
    }
}
