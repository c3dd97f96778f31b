//! Retention: once a day, over every node sharing the database, finished
//! jobs older than the retention period are removed with their log lines
//! and change records (see `Store::remove_finished_jobs`). Each node looks
//! every few minutes whether the day's run is due; the one whose claim on
//! the stored next run wins (`Store::claim_task`, a compare-and-set) runs
//! it. Time comes from the injected clock, so tests step it by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_schedule::Clock;
use ucsync_store::{Removed, Store, StoreError};

/// The task's name in the store.
pub const TASK: &str = "retention";

/// How often a node looks whether the day's run is due.
const LOOK_EVERY: Duration = Duration::from_secs(300);

/// Rows per transaction: a few milliseconds of the one SQLite writer.
const BATCH: u32 = 1_000;

/// How long finished jobs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Finished jobs older than this many days are removed; 0 keeps
    /// everything (the task does not run).
    pub days: u32,
    /// Rows removed per transaction.
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            days: 90,
            batch: BATCH,
        }
    }
}

/// What retention removed on this node since it started, for `/metrics`.
#[derive(Debug, Default)]
pub struct RetentionStats {
    runs: AtomicU64,
    jobs: AtomicU64,
}

impl RetentionStats {
    /// Runs this node made, and the jobs they removed.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.runs.load(Ordering::Relaxed),
            self.jobs.load(Ordering::Relaxed),
        )
    }
}

/// The daily removal of old jobs.
#[derive(Clone)]
pub struct Retention {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: RetentionSettings,
    stats: Arc<RetentionStats>,
}

impl std::fmt::Debug for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retention")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Retention {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: RetentionSettings,
        stats: Arc<RetentionStats>,
    ) -> Retention {
        Retention {
            store,
            clock,
            settings,
            stats,
        }
    }

    /// One look: if the day's run is due and this node wins it, removes
    /// what finished more than the retention period before the clock's now
    /// and answers what it removed; `None` when it was not this node's
    /// turn (or retention is off).
    pub async fn step(&self) -> Result<Option<Removed>, StoreError> {
        if self.settings.days == 0 {
            return Ok(None);
        }
        let now = self.clock.now();
        let Some(before) = now.checked_sub_signed(TimeDelta::days(i64::from(self.settings.days)))
        else {
            return Ok(None);
        };
        if !self
            .store
            .claim_task(TASK, now, now + TimeDelta::days(1))
            .await?
        {
            return Ok(None);
        }
        let removed = self
            .store
            .remove_finished_jobs(before, self.settings.batch)
            .await?;
        self.stats.runs.fetch_add(1, Ordering::Relaxed);
        self.stats.jobs.fetch_add(removed.jobs, Ordering::Relaxed);
        tracing::info!(
            jobs = removed.jobs,
            log_lines = removed.log_lines,
            changes = removed.changes,
            days = self.settings.days,
            "removed the jobs that finished before the retention period"
        );
        Ok(Some(removed))
    }

    /// Runs retention on `tasks` until `shutdown`: a look at once, then
    /// every few minutes. With `days` 0 nothing starts.
    pub fn start(self, shutdown: CancellationToken, tasks: &TaskTracker) {
        if self.settings.days == 0 {
            tracing::info!("job retention is off: finished jobs are kept");
            return;
        }
        tasks.spawn(self.run(shutdown));
    }

    async fn run(self, shutdown: CancellationToken) {
        loop {
            // A run stopped by shutdown ends between two transactions;
            // what it did not remove waits for the next day's.
            tokio::select! {
                r = self.step() => {
                    if let Err(e) = r {
                        tracing::error!(error = %e, "job retention failed; the next day's run removes what this one did not");
                    }
                }
                _ = shutdown.cancelled() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
