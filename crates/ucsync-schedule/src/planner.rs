//! One step of the scheduler: which schedules are due now, and the state to
//! store for each. The service calls [`tick`] with its clock's `now`, starts
//! the runs, and stores the states.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ucsync_core::SyncType;

use crate::{Schedule, Target};

/// What the service stores next to a schedule.
///
/// JSON: `{"last_fired": "2026-03-01T02:00:00Z", "next_due": "2026-03-02T02:00:00Z"}`
/// (either may be `null`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// When the schedule last started a run (`None`: never).
    pub last_fired: Option<DateTime<Utc>>,
    /// When it fires next (`None`: ended, or disabled). Derived from the
    /// schedule and `last_fired` at every tick, so a value left stale by an
    /// edit does no harm; stored for listings and for the service to know how
    /// long it may sleep.
    pub next_due: Option<DateTime<Utc>>,
}

/// A run to start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRun<K> {
    /// The schedule's id, as the caller passed it.
    pub id: K,
    /// The slot this run stands for: the earliest one not yet fired, so later
    /// than it when the service was down.
    pub slot: DateTime<Utc>,
    pub target: Target,
    pub sync_type: SyncType,
}

/// The result of one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick<K> {
    /// The runs to start, at most one per schedule, in input order.
    pub runs: Vec<DueRun<K>>,
    /// The new state of every schedule, in input order.
    pub states: Vec<(K, ScheduleState)>,
}

impl<K> Tick<K> {
    /// The earliest next fire of any schedule: when the next tick is needed,
    /// unless a schedule changes before.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.states.iter().filter_map(|(_, s)| s.next_due).min()
    }
}

/// Decides, at `now`, which of `schedules` (each with its id and stored
/// state; ids unique) run. A due schedule runs once however many slots it
/// missed; its new `last_fired` is `now`, and its next fire is back on its
/// grid.
pub fn tick<'a, K: Clone>(
    schedules: impl IntoIterator<Item = (K, &'a Schedule, ScheduleState)>,
    now: DateTime<Utc>,
) -> Tick<K> {
    let mut result = Tick {
        runs: Vec::new(),
        states: Vec::new(),
    };
    for (id, schedule, state) in schedules {
        let status = schedule.status(state.last_fired, now);
        let last_fired = match status.due {
            Some(slot) => {
                result.runs.push(DueRun {
                    id: id.clone(),
                    slot,
                    target: schedule.target().clone(),
                    sync_type: schedule.sync_type(),
                });
                Some(now)
            }
            None => state.last_fired,
        };
        result.states.push((
            id,
            ScheduleState {
                last_fired,
                next_due: status.next,
            },
        ));
    }
    result
}
