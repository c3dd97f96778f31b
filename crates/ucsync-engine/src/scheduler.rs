//! The scheduler: at each step it reads the stored schedules, asks
//! `ucsync_schedule::tick` which are due at the clock's now, records each
//! firing with a compare-and-set (so of several nodes sharing a database,
//! exactly one fires a slot), and requests the jobs on the job queue.
//! Time comes from an injected clock, so tests step it by hand.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::{AlarmCondition, ElementName, Trigger};
use ucsync_schedule::{Clock, Target, tick};
use ucsync_store::{JobId, ScheduleId, ScheduleRecord, StoreError};

use crate::alarms::Alarms;
use crate::queue::Queue;
pub use crate::records::{first_due, parse_record};

/// Who scheduled jobs are requested by.
pub const SCHEDULER: &str = "scheduler";

/// The longest the scheduler sleeps: schedules added or edited meanwhile
/// are seen within it.
const MAX_SLEEP: Duration = Duration::from_millis(500);

/// Fires due schedules.
#[derive(Clone)]
pub struct Scheduler {
    queue: Queue,
    clock: Arc<dyn Clock>,
    default_zone: Tz,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("default_zone", &self.default_zone)
            .finish_non_exhaustive()
    }
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// The schedules that fired, with the jobs they requested.
    pub fired: Vec<(ScheduleId, Vec<JobId>)>,
    /// When a schedule is due next.
    pub next_wake: Option<DateTime<Utc>>,
}

impl Scheduler {
    /// Alarms of schedules that could not fire, on the element they name.
    fn alarms(&self) -> Alarms {
        Alarms::new(
            self.queue.store().clone(),
            self.queue.events().clone(),
            self.clock.clone(),
        )
    }

    pub fn new(queue: Queue, clock: Arc<dyn Clock>, default_zone: Tz) -> Scheduler {
        Scheduler {
            queue,
            clock,
            default_zone,
        }
    }

    /// Makes again the default schedules that were lost (see
    /// [`crate::defaults::restore`]); returns the elements that got one.
    pub async fn restore_defaults(&self) -> Result<Vec<ElementName>, StoreError> {
        crate::defaults::restore(
            self.queue.store().as_ref(),
            self.clock.now(),
            self.default_zone,
        )
        .await
    }

    /// One pass: fires every schedule due at the clock's now.
    pub async fn step(&self) -> Result<Step, StoreError> {
        let store = self.queue.store().clone();
        let now = self.clock.now();
        let records = store.schedules().await?;
        let mut parsed = Vec::with_capacity(records.len());
        for r in &records {
            match parse_record(r, self.default_zone) {
                Ok((s, state)) => parsed.push((r, s, state)),
                Err(e) => tracing::warn!(schedule = r.id, error = %e, "schedule skipped"),
            }
        }
        let t = tick(parsed.iter().map(|(r, s, st)| (*r, s, *st)), now);
        let mut step = Step {
            fired: Vec::new(),
            next_wake: t.next_wake(),
        };
        for (r, state) in &t.states {
            let fires = t.runs.iter().find(|run| run.id.id == r.id);
            // Fire times are stored to the millisecond.
            let next = state.next_due.map(|t| t.trunc_subsecs(3));
            if fires.is_none() && next == r.next_due {
                continue;
            }
            // Only the node whose compare-and-set wins starts the runs.
            if !store
                .schedule_fired(r.id, r.next_due, state.last_fired, state.next_due)
                .await?
            {
                continue;
            }
            if let Some(run) = fires {
                let jobs = self.fire(r, &run.target, run.sync_type).await?;
                step.fired.push((r.id, jobs));
            }
        }
        Ok(step)
    }

    async fn fire(
        &self,
        r: &ScheduleRecord,
        target: &Target,
        sync_type: ucsync_core::SyncType,
    ) -> Result<Vec<JobId>, StoreError> {
        let names: Vec<ElementName> = match target {
            Target::All | Target::Kind(_) => self
                .queue
                .store()
                .elements()
                .await?
                .into_iter()
                .filter(|e| !matches!(target, Target::Kind(k) if *k != e.kind))
                .map(|e| e.name)
                .collect(),
            Target::Elements(names) => names.clone(),
        };
        let mut jobs = Vec::with_capacity(names.len());
        for name in names {
            match self
                .queue
                .request(&name, sync_type, Trigger::Schedule, SCHEDULER)
                .await
            {
                Ok(req) => {
                    jobs.push(req.job.id);
                    self.alarms()
                        .clear(name.as_str(), &[AlarmCondition::ScheduleMissed])
                        .await;
                }
                Err(StoreError::NoElement(_)) => {
                    tracing::warn!(schedule = r.id, element = %name, "scheduled element does not exist");
                    let cause = format!(
                        "schedule {} ('{}') could not fire: it names '{name}', which is not in the inventory",
                        r.id, r.name
                    );
                    self.alarms()
                        .raise(name.as_str(), AlarmCondition::ScheduleMissed, &cause)
                        .await;
                }
                Err(e) => {
                    let cause = format!("schedule {} ('{}') could not fire: {e}", r.id, r.name);
                    self.alarms()
                        .raise(name.as_str(), AlarmCondition::ScheduleMissed, &cause)
                        .await;
                    return Err(e);
                }
            }
        }
        tracing::info!(schedule = r.id, name = %r.name, jobs = jobs.len(), "schedule fired");
        Ok(jobs)
    }

    /// Runs the scheduler on `tasks` until `shutdown`: first the lost
    /// default schedules are made again, then it steps, sleeping until the
    /// next due time (at most half a second, so new and edited schedules
    /// are seen in time).
    pub fn start(self, shutdown: CancellationToken, tasks: &TaskTracker) {
        tasks.spawn(self.run(shutdown));
    }

    async fn run(self, shutdown: CancellationToken) {
        if let Err(e) = self.restore_defaults().await {
            tracing::error!(error = %e, "cannot check the default schedules");
        }
        loop {
            let sleep = match self.step().await {
                Ok(step) => step
                    .next_wake
                    .and_then(|t| (t - self.clock.now()).to_std().ok())
                    .unwrap_or(MAX_SLEEP)
                    .min(MAX_SLEEP),
                Err(e) => {
                    tracing::error!(error = %e, "scheduler step failed");
                    MAX_SLEEP
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
