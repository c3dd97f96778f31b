//! The scheduler: at each step it reads the stored schedules, asks
//! `ucsync_schedule::tick` which are due at the clock's now, records each
//! firing with a compare-and-set (so of several nodes sharing a database,
//! exactly one fires a slot), and requests the jobs through the runner.
//! Time comes from an injected clock, so tests step it by hand.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;
use ucsync_core::{ElementKind, ElementName, Trigger};
use ucsync_schedule::{Clock, Schedule, ScheduleSpec, ScheduleState, Target, tick};
use ucsync_store::{NewSchedule, ScheduleId, ScheduleRecord, Store, StoreError};

use crate::runner::Runner;

/// Who scheduled jobs are requested by.
pub const SCHEDULER: &str = "scheduler";

/// The longest the scheduler sleeps: schedules added or edited meanwhile
/// are seen within it.
const MAX_SLEEP: Duration = Duration::from_millis(500);

/// Times as the store writes them.
pub fn timestamp(t: DateTime<Utc>) -> String {
    ucsync_store::time_text(t)
}

/// A stored schedule read back: its checked specification and state.
pub fn parse_record(
    r: &ScheduleRecord,
    default_zone: Tz,
) -> Result<(Schedule, ScheduleState), String> {
    let spec: ScheduleSpec =
        serde_json::from_value(r.spec.clone()).map_err(|e| format!("schedule {}: {e}", r.id))?;
    let schedule =
        Schedule::new(spec, default_zone).map_err(|e| format!("schedule {}: {e}", r.id))?;
    let state = ScheduleState {
        last_fired: r.last_fired,
        next_due: r.next_due,
    };
    Ok((schedule, state))
}

/// What a new (or edited) schedule stores as its next due time: its first
/// slot, even when that is already due.
pub fn first_due(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let status = schedule.status(None, now);
    status.due.or(status.next)
}

/// Adds an element's default schedule (an incremental every day at its own
/// time of day) unless it has one.
pub async fn add_default(
    store: &dyn Store,
    element: &ElementName,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Option<ScheduleRecord>, StoreError> {
    let schedule = ucsync_schedule::default_schedule(element, now, zone);
    let next_due = first_due(&schedule, now);
    let spec = serde_json::to_value(schedule.to_spec()).expect("a schedule serializes");
    match store
        .add_schedule(&NewSchedule {
            name: format!("{element} default schedule"),
            default_for: Some(element.clone()),
            spec,
            next_due,
        })
        .await
    {
        Ok(r) => Ok(Some(r)),
        Err(StoreError::DefaultExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fires due schedules.
#[derive(Clone)]
pub struct Scheduler {
    runner: Runner,
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
    pub fired: Vec<(ScheduleId, Vec<i64>)>,
    /// When a schedule is due next.
    pub next_wake: Option<DateTime<Utc>>,
}

impl Scheduler {
    pub fn new(runner: Runner, clock: Arc<dyn Clock>, default_zone: Tz) -> Scheduler {
        Scheduler {
            runner,
            clock,
            default_zone,
        }
    }

    /// The default schedule is a system schedule: every CM and IP Office
    /// whose first init has run has one. One lost (deleted through an
    /// older version) is made again; returns the elements that got one.
    pub async fn restore_defaults(&self) -> Result<Vec<ElementName>, StoreError> {
        let store = self.runner.store().clone();
        // One read of the schedules, so a start tries to add only what is
        // missing (not one refused insert per element).
        let has_default: std::collections::HashSet<String> = store
            .schedules()
            .await?
            .into_iter()
            .filter_map(|s| s.default_for)
            .collect();
        let mut restored = Vec::new();
        for e in store.elements().await? {
            let synced = e.sync.last_init_at.is_some();
            if !synced
                || !matches!(e.kind, ElementKind::Cm | ElementKind::IpOffice)
                || has_default.contains(e.name.as_str())
            {
                continue;
            }
            if add_default(store.as_ref(), &e.name, self.clock.now(), self.default_zone)
                .await?
                .is_some()
            {
                tracing::info!(element = %e.name, "its default schedule was missing: made again");
                restored.push(e.name);
            }
        }
        Ok(restored)
    }

    /// One pass: fires every schedule due at the clock's now.
    pub async fn step(&self) -> Result<Step, StoreError> {
        let store = self.runner.store().clone();
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
            let due = r.next_due;
            let fires = t.runs.iter().find(|run| run.id.id == r.id);
            if fires.is_none() && state.next_due == due {
                continue;
            }
            // Only the node whose compare-and-set wins starts the runs.
            if !store
                .schedule_fired(r.id, due, state.last_fired, state.next_due)
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
    ) -> Result<Vec<i64>, StoreError> {
        let names: Vec<ElementName> = match target {
            Target::All => self
                .runner
                .store()
                .elements()
                .await?
                .into_iter()
                .map(|e| e.name)
                .collect(),
            Target::Elements(names) => names.clone(),
        };
        let mut jobs = Vec::with_capacity(names.len());
        for name in names {
            match self
                .runner
                .request(&name, sync_type, Trigger::Schedule, SCHEDULER)
                .await
            {
                Ok(req) => jobs.push(req.job.id.0),
                Err(StoreError::NoElement(_)) => {
                    tracing::warn!(schedule = r.id, element = %name, "scheduled element does not exist")
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(schedule = r.id, name = %r.name, jobs = jobs.len(), "schedule fired");
        Ok(jobs)
    }

    /// Steps until `shutdown`, sleeping until the next due time (at most
    /// half a second, so new and edited schedules are seen in time).
    pub async fn run(self, shutdown: CancellationToken) {
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
