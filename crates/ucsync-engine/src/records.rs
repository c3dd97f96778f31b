//! Stored schedules read and written: times as the store writes them, a
//! record's checked schedule and state, and what a new schedule stores as
//! its next due time. Shared by the scheduler, the default schedules and
//! the API.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use ucsync_schedule::{Schedule, ScheduleSpec, ScheduleState};
use ucsync_store::ScheduleRecord;

/// Times as the store writes them.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc())
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
        last_fired: parse_time(&r.last_fired),
        next_due: parse_time(&r.next_due),
    };
    Ok((schedule, state))
}

/// What a new (or edited) schedule stores as its next due time: its first
/// slot, even when that is already due.
pub fn first_due(schedule: &Schedule, now: DateTime<Utc>) -> Option<String> {
    let status = schedule.status(None, now);
    status.due.or(status.next).map(timestamp)
}
