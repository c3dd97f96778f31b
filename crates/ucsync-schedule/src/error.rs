//! Why a schedule is refused: one case per thing an administrator can fix,
//! each naming the field at fault.

use chrono::{DateTime, Utc};

use crate::Unit;

/// A schedule that could never fire, or that cannot be read.
///
/// A disabled schedule is not an error: it is kept, and simply never due.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "repeat.every.n is 0: a schedule repeats every 1 or more {unit}; use \"repeat\": \"none\" for a job that runs once"
    )]
    ZeroInterval { unit: Unit },

    #[error(
        "repeat.cron {expression:?} is not a valid cron expression ({reason}); write five fields, minute hour day-of-month month day-of-week, such as \"0 3 * * *\" for 03:00 every day"
    )]
    InvalidCron { expression: String, reason: String },

    #[error(
        "repeat.cron {expression:?} never matches a date that exists (such as 30 February); check its day-of-month and month fields"
    )]
    CronNeverMatches { expression: String },

    #[error(
        "end ({end}) is before the first run ({first_run}), so the schedule would never run; set a later end or an earlier first_run"
    )]
    EndBeforeFirstRun {
        end: DateTime<Utc>,
        first_run: DateTime<Utc>,
    },

    #[error("target.elements is empty: name at least one element, or target \"all\"")]
    NoElements,

    #[error(
        "time_zone {name:?} is not a known time zone; use an IANA name such as \"Europe/Berlin\" or \"UTC\""
    )]
    UnknownTimeZone { name: String },
}

impl ScheduleError {
    /// The JSON field at fault, as a dotted path (`repeat.cron`, `end`, …), for
    /// an API error body that points at it.
    pub fn field(&self) -> &'static str {
        match self {
            ScheduleError::ZeroInterval { .. } => "repeat.every.n",
            ScheduleError::InvalidCron { .. } | ScheduleError::CronNeverMatches { .. } => {
                "repeat.cron"
            }
            ScheduleError::EndBeforeFirstRun { .. } => "end",
            ScheduleError::NoElements => "target.elements",
            ScheduleError::UnknownTimeZone { .. } => "time_zone",
        }
    }
}
