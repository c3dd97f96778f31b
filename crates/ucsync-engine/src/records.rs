//! Stored schedules read and written: a record's checked schedule and
//! state, and what a new schedule stores as its next due time. Shared by
//! the scheduler, the default schedules and the API.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ucsync_schedule::{Schedule, ScheduleState};
use ucsync_store::ScheduleRecord;

/// A stored schedule read back: its checked specification and state.
pub fn parse_record(
    r: &ScheduleRecord,
    default_zone: Tz,
) -> Result<(Schedule, ScheduleState), String> {
    let schedule = Schedule::new(r.spec.clone(), default_zone)
        .map_err(|e| format!("schedule {}: {e}", r.id))?;
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
