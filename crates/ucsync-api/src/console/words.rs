//! The words the console shows for the API's values: what an administrator
//! of System Manager reads at a glance (its status vocabulary, the seed's
//! names of the element kinds and sync types), and the style class of each
//! state.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ucsync_core::{ElementKind, ElementState, JobState, SyncType, Trigger};
use ucsync_schedule::{Repeat, Unit};

pub(crate) fn kind(k: ElementKind) -> &'static str {
    match k {
        ElementKind::Cm => "Communication Manager",
        ElementKind::IpOffice => "IP Office",
        ElementKind::Messaging => "Messaging",
        ElementKind::CmMessaging => "Communication Manager Messaging",
        ElementKind::ModularMessaging => "Modular Messaging",
    }
}

pub(crate) fn sync_type(t: SyncType) -> &'static str {
    match t {
        SyncType::Init => "Initializing",
        SyncType::Incremental => "Incremental",
        SyncType::ForceInit => "Force initialize",
    }
}

pub(crate) fn trigger(t: Trigger) -> &'static str {
    match t {
        Trigger::ElementAdded => "Element added",
        Trigger::OnDemand => "On-demand",
        Trigger::Schedule => "Scheduled",
        Trigger::Notify => "Notify sync",
    }
}

pub(crate) fn job_state(s: JobState) -> &'static str {
    match s {
        JobState::Queued => "Queued",
        JobState::Waiting => "Waiting for a place",
        JobState::Running => "Running",
        JobState::Stopping => "Stopping",
        JobState::Stopped => "Stopped",
        JobState::Succeeded => "Passed",
        JobState::Failed => "Failed",
    }
}

pub(crate) fn element_state(s: ElementState) -> &'static str {
    match s {
        ElementState::NeverSynced => "Never synchronized",
        ElementState::Syncing => "Synchronizing",
        ElementState::InSync => "In sync",
        ElementState::NeedsInit => "Needs initializing",
        ElementState::Failing => "Failing",
    }
}

/// The style class of a state: `ok`, `bad`, `busy` or `idle`.
pub(crate) fn job_class(s: JobState) -> &'static str {
    match s {
        JobState::Succeeded => "ok",
        JobState::Failed => "bad",
        JobState::Running | JobState::Stopping => "busy",
        JobState::Queued | JobState::Waiting | JobState::Stopped => "idle",
    }
}

pub(crate) fn element_class(s: ElementState) -> &'static str {
    match s {
        ElementState::InSync => "ok",
        ElementState::Failing | ElementState::NeedsInit => "bad",
        ElementState::Syncing => "busy",
        ElementState::NeverSynced => "idle",
    }
}

/// A host and port as one address (an IPv6 address in brackets).
pub(crate) fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Yes or no.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A time of the API (RFC 3339) as a page shows it: to the second, in UTC.
pub(crate) fn time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        },
    )
}

/// What a change did to an object (`add`, `change`, `delete`).
pub(crate) fn op(op: &str) -> &'static str {
    match op {
        "add" => "Added",
        "change" => "Changed",
        "delete" => "Deleted",
        _ => "Changed",
    }
}

/// A time in a schedule's zone, as the dashboard and the schedules page
/// show it.
pub(crate) fn in_zone(utc: &str, zone: &str) -> String {
    let (Ok(t), Ok(tz)) = (utc.parse::<DateTime<Utc>>(), zone.parse::<Tz>()) else {
        return time(utc);
    };
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// How a schedule repeats, in words.
pub(crate) fn repeat(r: &Repeat) -> String {
    match r {
        Repeat::None => "Once".to_string(),
        Repeat::Every(e) => {
            let unit = match (e.unit, e.n == 1) {
                (Unit::Minutes, true) => "minute",
                (Unit::Hours, true) => "hour",
                (Unit::Days, true) => "day",
                (Unit::Weeks, true) => "week",
                (u, false) => return format!("Every {} {u}", e.n),
            };
            format!("Every {unit}")
        }
        Repeat::Cron(c) => format!("When cron {c} matches"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_to_the_second_in_utc() {
        assert_eq!(
            time("2026-12-05T10:11:12.345+01:00"),
            "2026-12-05 09:11:12 UTC"
        );
        assert_eq!(time("not a time"), "not a time");
    }

    #[test]
    fn repeats_read_as_words() {
        use ucsync_schedule::Every;
        let every = |n, unit| Repeat::Every(Every { n, unit });
        assert_eq!(repeat(&Repeat::None), "Once");
        assert_eq!(repeat(&every(1, Unit::Hours)), "Every hour");
        assert_eq!(repeat(&every(2, Unit::Weeks)), "Every 2 weeks");
        assert_eq!(
            repeat(&Repeat::Cron("0 3 * * 1".into())),
            "When cron 0 3 * * 1 matches"
        );
    }

    #[test]
    fn times_read_in_a_schedules_zone() {
        assert_eq!(
            in_zone("2026-12-05T10:00:00.000Z", "Europe/Berlin"),
            "2026-12-05 11:00 CET"
        );
        assert_eq!(
            in_zone("2026-12-05T10:00:00.000Z", "Nowhere/Else"),
            "2026-12-05 10:00:00 UTC"
        );
    }
}
