//! Where an element's synchronization stands, in one word and a reason:
//! the one rule the API's element view, and through it the CLI and the
//! console, show.

use crate::decide::RUN_AN_INIT;
use crate::types::{ElementState, JobState, SyncType};

/// A finished job, as far as the status reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastJob {
    pub sync_type: SyncType,
    pub state: JobState,
    pub error: Option<String>,
}

/// What is known of an element's synchronization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusFacts {
    /// The type of the job running (or stopping) on it now, if one is.
    pub running: Option<SyncType>,
    /// Whether its last initializing sync succeeded (`None`: none ran).
    pub last_init_ok: Option<bool>,
    pub last_init_error: Option<String>,
    /// Its newest job that ran and finished, of any type.
    pub last_job: Option<LastJob>,
}

/// An element's state, with the reason when there is one to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementStatus {
    pub state: ElementState,
    pub reason: Option<String>,
}

fn a(t: SyncType) -> &'static str {
    match t {
        SyncType::Incremental => "an incremental",
        SyncType::Init => "an init",
        SyncType::ForceInit => "a force-init",
    }
}

/// The element's state: `syncing` while a job runs; `needs-init` when its
/// last init failed or its last job was refused until an init runs (an
/// upgrade); `failing` when its last job failed otherwise; `in-sync` when
/// an init succeeded and nothing failed since; `never-synced` before that.
pub fn element_status(f: &StatusFacts) -> ElementStatus {
    let status = |state, reason: Option<String>| ElementStatus { state, reason };
    if let Some(t) = f.running {
        return status(ElementState::Syncing, Some(format!("{} is running", a(t))));
    }
    if f.last_init_ok == Some(false) {
        let why = f
            .last_init_error
            .as_deref()
            .unwrap_or("no reason was recorded");
        return status(
            ElementState::NeedsInit,
            Some(format!("the last initializing sync failed: {why}")),
        );
    }
    if let Some(j) = &f.last_job
        && j.state == JobState::Failed
    {
        let why = j.error.as_deref().unwrap_or("no reason was recorded");
        let state = if why.ends_with(RUN_AN_INIT) {
            ElementState::NeedsInit
        } else {
            ElementState::Failing
        };
        return status(
            state,
            Some(format!("the last {} failed: {why}", j.sync_type)),
        );
    }
    let stopped = f
        .last_job
        .as_ref()
        .filter(|j| j.state == JobState::Stopped)
        .map(|j| format!("the last {} was stopped before it finished", j.sync_type));
    match f.last_init_ok {
        Some(true) => status(ElementState::InSync, stopped),
        _ => status(
            ElementState::NeverSynced,
            stopped.or_else(|| Some("no initializing sync has completed yet".into())),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(sync_type: SyncType, state: JobState, error: Option<&str>) -> Option<LastJob> {
        Some(LastJob {
            sync_type,
            state,
            error: error.map(str::to_string),
        })
    }

    fn ok_init() -> StatusFacts {
        StatusFacts {
            last_init_ok: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn every_state_with_its_reason() {
        use ElementState::*;
        use JobState::{Failed, Stopped, Succeeded};
        use SyncType::{Incremental, Init};
        let upgraded = "the element was upgraded from R1 to R2 since the last initializing sync: run an initializing sync";
        let r = |s: &str| Some(s.to_string());
        let cases: Vec<(StatusFacts, ElementState, Option<String>)> = vec![
            (
                StatusFacts::default(),
                NeverSynced,
                r("no initializing sync has completed yet"),
            ),
            (
                StatusFacts {
                    last_job: job(Init, Stopped, None),
                    ..Default::default()
                },
                NeverSynced,
                r("the last init was stopped before it finished"),
            ),
            (
                StatusFacts {
                    running: Some(Init),
                    last_init_ok: Some(false),
                    ..Default::default()
                },
                Syncing,
                r("an init is running"),
            ),
            (
                StatusFacts {
                    last_job: job(Incremental, Succeeded, None),
                    ..ok_init()
                },
                InSync,
                None,
            ),
            (ok_init(), InSync, None),
            (
                StatusFacts {
                    last_job: job(Incremental, Stopped, None),
                    ..ok_init()
                },
                InSync,
                r("the last incremental was stopped before it finished"),
            ),
            (
                StatusFacts {
                    last_init_ok: Some(false),
                    last_init_error: Some(
                        "90 of 300 station objects (30 %) would be deleted".into(),
                    ),
                    last_job: job(
                        Init,
                        Failed,
                        Some("90 of 300 station objects (30 %) would be deleted"),
                    ),
                    ..Default::default()
                },
                NeedsInit,
                r(
                    "the last initializing sync failed: 90 of 300 station objects (30 %) would be deleted",
                ),
            ),
            // An incremental refused after an upgrade: the init is what is
            // ok, but the element is not in sync.
            (
                StatusFacts {
                    last_job: job(Incremental, Failed, Some(upgraded)),
                    ..ok_init()
                },
                NeedsInit,
                Some(format!("the last incremental failed: {upgraded}")),
            ),
            (
                StatusFacts {
                    last_job: job(Incremental, Failed, Some("the CM did not answer")),
                    ..ok_init()
                },
                Failing,
                r("the last incremental failed: the CM did not answer"),
            ),
        ];
        for (facts, state, reason) in cases {
            let got = element_status(&facts);
            assert_eq!((got.state, got.reason), (state, reason), "{facts:?}");
        }
    }
}
