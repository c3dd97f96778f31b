//! When scheduled sync jobs run — pure logic: no IO, no database, no runtime.
//!
//! - `schedule.rs`: [`ScheduleSpec`] (what an administrator writes, the REST
//!   API's JSON) and [`Schedule`] (the same, checked that it can fire), with
//!   its grid of fires and [`Schedule::status`]: due now, and when next.
//! - `grid.rs`: the arithmetic of repeats, daylight-saving changes included.
//! - `planner.rs`: [`tick`], the step the service runs on each wake-up.
//! - `default.rs`: the daily incremental every CM gets after its first init.
//! - `clock.rs`: [`Clock`], so the service and tests decide what "now" is.
//! - `error.rs`: [`ScheduleError`], why a schedule is refused.
//!
//! # Rules
//!
//! - Minutes and hours are exact intervals from the first run. Days, weeks
//!   and cron expressions are local wall-clock times in the schedule's zone
//!   (`time_zone`, an IANA name; the service's setting, UTC by default). A
//!   local time skipped by a spring-forward fires at the end of the gap (02:30
//!   on a day that jumps from 02:00 to 03:00 fires at 03:00), once; a local
//!   time that a fall-back repeats fires at its first occurrence only. So a
//!   daily or weekly run is neither skipped nor doubled.
//! - Slots missed while the service was down make one run when it is back,
//!   after which the schedule resumes on its grid.
//! - Nothing fires after `end`. A schedule that could never fire is refused.
//!
//! # JSON
//!
//! ```json
//! {
//!   "target": {"elements": ["cm-east"]},
//!   "sync_type": "incremental",
//!   "first_run": "2026-03-01T03:17:00Z",
//!   "repeat": {"every": {"n": 1, "unit": "days"}},
//!   "end": null,
//!   "time_zone": "Europe/Berlin",
//!   "enabled": true
//! }
//! ```
//!
//! `target` is `"all"`, `{"kind": "cm"}` or `{"elements": [...]}`; `repeat` is `"none"`,
//! `{"every": {"n": N, "unit": "minutes" | "hours" | "days" | "weeks"}}` or
//! `{"cron": "0 3 * * *"}`; `sync_type` is `incremental`, `init` or
//! `force-init`.

mod clock;
mod default;
mod error;
mod grid;
mod planner;
mod schedule;

pub use chrono_tz::Tz;

pub use clock::{Clock, ManualClock, SystemClock};
pub use default::{default_schedule, default_time_of_day};
pub use error::ScheduleError;
pub use planner::{DueRun, ScheduleState, Tick, tick};
pub use schedule::{Every, Repeat, Schedule, ScheduleSpec, Status, Target, Unit, parse_time_zone};
