//! The scheduler's rules through the public API, driven by a manual clock.

mod default;
mod dst;
mod json;
mod missed;
mod planner;
mod refusals;
mod repeats;

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use ucsync_schedule::{Clock, ManualClock, Schedule, ScheduleSpec, ScheduleState, Tz, tick};

/// An instant written as local time in `zone`, `2026-03-29 02:30`; a local
/// time that falls twice is its first occurrence.
pub fn at(zone: Tz, local: &str) -> DateTime<Utc> {
    let wall = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
    zone.from_local_datetime(&wall).earliest().unwrap().to_utc()
}

/// An instant written in UTC, `2026-03-01 03:00`.
pub fn utc(s: &str) -> DateTime<Utc> {
    at(Tz::UTC, s)
}

/// An instant as local time with the zone's abbreviation: `2026-03-29 03:00 CEST`.
pub fn show(zone: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A schedule from its JSON form.
pub fn schedule(json: &str) -> Schedule {
    let spec: ScheduleSpec = serde_json::from_str(json).unwrap();
    Schedule::new(spec, Tz::UTC).unwrap()
}

/// Runs the service's loop from the clock's time until `until`, ticking
/// every `step` except while the service is `down` (from, to), and returns
/// the instants at which the schedule started a run.
pub fn simulate(
    schedule: &Schedule,
    clock: &ManualClock,
    until: DateTime<Utc>,
    step: TimeDelta,
    down: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<DateTime<Utc>> {
    let mut state = ScheduleState::default();
    let mut fired = Vec::new();
    while clock.now() <= until {
        let now = clock.now();
        if !down.is_some_and(|(from, to)| from <= now && now < to) {
            let result = tick([((), schedule, state)], now);
            fired.extend(result.runs.iter().map(|_| now));
            state = result.states[0].1;
        }
        clock.advance(step);
    }
    fired
}
