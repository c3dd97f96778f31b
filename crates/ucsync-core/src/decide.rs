//! Which sync runs, and why — the seed's rules as pure functions.

use crate::types::SyncType;

/// The limit of history rows an incremental applies: 1800 runs as an
/// incremental, 1801 as an init.
pub const MAX_INCREMENTAL_ROWS: usize = 1800;

/// How a refusal that only an initializing sync lifts ends: the element
/// status reads a job that failed so as needing an init.
pub const RUN_AN_INIT: &str = "run an initializing sync";

/// What is known about an element before a sync starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncFacts {
    /// An init has run on this element (successfully or not).
    pub init_ran: bool,
    pub last_init_failed: bool,
    /// The element's software version at the last successful init, and now.
    pub version_at_init: Option<String>,
    pub version_now: String,
    /// ucsync's sync-format version at the last successful init, and now.
    pub format_at_init: Option<u32>,
    pub format_now: u32,
    /// Whether there is a sync point to continue from.
    pub has_sync_point: bool,
}

/// The outcome of the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run what was asked for.
    Run(SyncType),
    /// Run an init instead of the incremental asked for, for this reason.
    Init { reason: String },
    /// Do nothing and fail the job with this message.
    Refuse { reason: String },
}

/// Decides what a requested sync becomes, before anything is read.
pub fn decide(requested: SyncType, f: &SyncFacts) -> Decision {
    if requested != SyncType::Incremental {
        return Decision::Run(requested);
    }
    if !f.init_ran {
        return Decision::Init {
            reason: "no initializing sync has run on this element yet".into(),
        };
    }
    if f.last_init_failed {
        return Decision::Init {
            reason: "the last initializing sync of this element failed".into(),
        };
    }
    if let Some(before) = &f.version_at_init {
        if *before != f.version_now {
            return Decision::Refuse {
                reason: format!(
                    "the element was upgraded from {before} to {} since the last initializing sync: {RUN_AN_INIT}",
                    f.version_now
                ),
            };
        }
    }
    if let Some(before) = f.format_at_init {
        if before != f.format_now {
            return Decision::Refuse {
                reason: format!(
                    "ucsync was upgraded (sync format {before} to {}) since the last initializing sync of this element: {RUN_AN_INIT}",
                    f.format_now
                ),
            };
        }
    }
    if !f.has_sync_point {
        return Decision::Init {
            reason: "there is no sync point to continue from".into(),
        };
    }
    Decision::Run(SyncType::Incremental)
}

/// What an incremental found to apply, summarised for the escalation rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Data-command rows to apply: not logins, not own logins, not rows notify sync applied.
    pub rows_to_apply: usize,
    /// The oldest row still in the log is newer than the sync point.
    pub log_wrapped: bool,
    /// System-wide forms (and dial plan, cabinets, boards) that changed.
    pub needs_init: Vec<String>,
    /// The connector cannot be sure it saw every change, for this reason.
    pub unsure: Option<String>,
}

/// The reason an incremental must become an init, if it must.
pub fn escalate(c: &ChangeSummary) -> Option<String> {
    if let Some(why) = &c.unsure {
        return Some(why.clone());
    }
    if c.log_wrapped {
        return Some(
            "the command history wrapped since the last sync, so changes may be missing from it"
                .into(),
        );
    }
    if !c.needs_init.is_empty() {
        return Some(format!(
            "{} changed, which needs an initializing sync",
            c.needs_init.join(", ")
        ));
    }
    if c.rows_to_apply > MAX_INCREMENTAL_ROWS {
        return Some(format!(
            "{} history rows to apply, more than {MAX_INCREMENTAL_ROWS}",
            c.rows_to_apply
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> SyncFacts {
        SyncFacts {
            init_ran: true,
            last_init_failed: false,
            version_at_init: Some("R1".into()),
            version_now: "R1".into(),
            format_at_init: Some(1),
            format_now: 1,
            has_sync_point: true,
        }
    }

    #[test]
    fn table() {
        type Case = (&'static str, SyncType, fn(&mut SyncFacts), &'static str);
        let cases: &[Case] = &[
            (
                "plain incremental",
                SyncType::Incremental,
                |_| {},
                "run incremental",
            ),
            (
                "init is init",
                SyncType::Init,
                |f| f.last_init_failed = true,
                "run init",
            ),
            (
                "force is force",
                SyncType::ForceInit,
                |f| f.version_now = "R2".into(),
                "run force-init",
            ),
            (
                "never initialised",
                SyncType::Incremental,
                |f| f.init_ran = false,
                "init: no initializing sync",
            ),
            (
                "failed init",
                SyncType::Incremental,
                |f| f.last_init_failed = true,
                "init: the last initializing sync",
            ),
            (
                "failed init beats upgrade",
                SyncType::Incremental,
                |f| {
                    f.last_init_failed = true;
                    f.version_now = "R2".into()
                },
                "init: the last",
            ),
            (
                "CM upgraded",
                SyncType::Incremental,
                |f| f.version_now = "R2".into(),
                "refuse: the element was upgraded from R1 to R2",
            ),
            (
                "ucsync upgraded",
                SyncType::Incremental,
                |f| f.format_now = 2,
                "refuse: ucsync was upgraded (sync format 1 to 2)",
            ),
            (
                "no sync point",
                SyncType::Incremental,
                |f| f.has_sync_point = false,
                "init: there is no sync point",
            ),
        ];
        for (name, req, tweak, expect) in cases {
            let mut f = ok();
            tweak(&mut f);
            let got = match decide(*req, &f) {
                Decision::Run(t) => format!("run {t}"),
                Decision::Init { reason } => format!("init: {reason}"),
                Decision::Refuse { reason } => format!("refuse: {reason}"),
            };
            assert!(got.starts_with(expect), "{name}: {got}");
        }
    }

    #[test]
    fn escalation_table() {
        let at = |rows| {
            escalate(&ChangeSummary {
                rows_to_apply: rows,
                ..Default::default()
            })
        };
        assert_eq!(at(0), None);
        assert_eq!(at(1800), None, "1800 stays incremental");
        assert_eq!(
            at(1801).unwrap(),
            "1801 history rows to apply, more than 1800"
        );
        let wrapped = ChangeSummary {
            log_wrapped: true,
            ..Default::default()
        };
        assert!(escalate(&wrapped).unwrap().contains("wrapped"));
        let forms = ChangeSummary {
            needs_init: vec!["system-parameters features".into()],
            ..Default::default()
        };
        assert_eq!(
            escalate(&forms).unwrap(),
            "system-parameters features changed, which needs an initializing sync"
        );
        let unsure = ChangeSummary {
            unsure: Some("the clock went backwards".into()),
            rows_to_apply: 1,
            ..Default::default()
        };
        assert_eq!(escalate(&unsure).unwrap(), "the clock went backwards");
    }
}
