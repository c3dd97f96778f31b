//! The words the console shows for the API's values: what an administrator
//! of System Manager reads at a glance (its status vocabulary, the seed's
//! names of the element kinds and sync types), and the style class of each
//! state.

use ucsync_core::{ElementKind, ElementState, JobState, SyncType, Trigger};

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
}
