//! Names and enumerations shared by every layer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An element's unique name: 1 to 64 of letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ElementName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid element name {0:?}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
)]
pub struct InvalidName(pub String);

impl ElementName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && s.as_bytes()[0].is_ascii_alphanumeric();
        if ok {
            Ok(ElementName(s.to_string()))
        } else {
            Err(InvalidName(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ElementName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ElementName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ElementName::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(concat!("unknown ", stringify!($name), " {:?}; expected one of: {}"), s, [$($text),+].join(", "))),
                }
            }
        }
    };
}

string_enum! {
    /// What kind of element: which connector talks to it.
    ElementKind { Cm = "cm", IpOffice = "ip-office", Messaging = "messaging", CmMessaging = "cm-messaging", ModularMessaging = "modular-messaging" }
}

string_enum! {
    /// The kind of synchronization.
    SyncType { Incremental = "incremental", Init = "init", ForceInit = "force-init" }
}

string_enum! {
    /// What started a job.
    Trigger { ElementAdded = "element-added", OnDemand = "on-demand", Schedule = "schedule", Notify = "notify" }
}

string_enum! {
    /// What an API token may do: `admin` everything, `read-only` GET only.
    Role { Admin = "admin", ReadOnly = "read-only" }
}

string_enum! {
    /// Where a job is in its life.
    JobState { Queued = "queued", Waiting = "waiting", Running = "running", Stopping = "stopping", Stopped = "stopped", Succeeded = "succeeded", Failed = "failed" }
}

string_enum! {
    /// How grave an alarm is, gravest first (the order of syslog's
    /// severities it maps to).
    Severity { Critical = "critical", Major = "major", Minor = "minor", Warning = "warning" }
}

string_enum! {
    /// What an alarm on an element is about: one open alarm per element and
    /// condition, raised while the condition lasts and cleared when it ends.
    AlarmCondition {
        SyncFailed = "sync-failed",
        SyncRefused = "sync-refused",
        Unreachable = "unreachable",
        LoginRefused = "login-refused",
        IdentityChanged = "identity-changed",
        HistoryWrapped = "history-wrapped",
        NotifySilent = "notify-silent",
        ScheduleMissed = "schedule-missed"
    }
}

impl AlarmCondition {
    /// The severity an alarm of this condition is raised with.
    pub fn severity(self) -> Severity {
        match self {
            AlarmCondition::Unreachable
            | AlarmCondition::LoginRefused
            | AlarmCondition::IdentityChanged => Severity::Critical,
            AlarmCondition::SyncFailed | AlarmCondition::SyncRefused => Severity::Major,
            AlarmCondition::HistoryWrapped | AlarmCondition::ScheduleMissed => Severity::Minor,
            AlarmCondition::NotifySilent => Severity::Warning,
        }
    }

    /// The conditions a sync job that ran to success ends: the element
    /// answered, logged in, was the one pinned, and was synchronized.
    pub const ENDED_BY_SUCCESS: &'static [AlarmCondition] = &[
        AlarmCondition::SyncFailed,
        AlarmCondition::SyncRefused,
        AlarmCondition::Unreachable,
        AlarmCondition::LoginRefused,
        AlarmCondition::IdentityChanged,
        AlarmCondition::ScheduleMissed,
    ];

    /// The conditions of reaching an element: an answer ends them all.
    pub const CONNECTION: &'static [AlarmCondition] = &[
        AlarmCondition::Unreachable,
        AlarmCondition::LoginRefused,
        AlarmCondition::IdentityChanged,
    ];
}

string_enum! {
    /// What to do with one object, or what a change did to it: its name in
    /// the change log, in the database and in JSON.
    PlanOp { Add = "add", Change = "change", Delete = "delete" }
}

string_enum! {
    /// Where an element's synchronization stands, in one word (see
    /// [`crate::status::element_status`]).
    ElementState { NeverSynced = "never-synced", Syncing = "syncing", InSync = "in-sync", NeedsInit = "needs-init", Failing = "failing" }
}

impl SyncType {
    /// How much a sync does: a request joins a job of the same or greater strength.
    pub fn strength(self) -> u8 {
        match self {
            SyncType::Incremental => 0,
            SyncType::Init => 1,
            SyncType::ForceInit => 2,
        }
    }

    pub fn is_init(self) -> bool {
        self != SyncType::Incremental
    }
}

impl JobState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Stopped | JobState::Succeeded | JobState::Failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["cm1", "CM-East.01", "a", &"x".repeat(64)] {
            assert!(ElementName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-cm", "cm 1", "cm/1", &"x".repeat(65), "é"] {
            assert!(ElementName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_round_trip_and_order() {
        for k in ElementKind::ALL {
            assert_eq!(k.as_str().parse::<ElementKind>(), Ok(*k));
        }
        assert!(
            "cmx"
                .parse::<ElementKind>()
                .unwrap_err()
                .contains("cm, ip-office")
        );
        assert!(SyncType::ForceInit.strength() > SyncType::Init.strength());
        assert!(SyncType::Init.strength() > SyncType::Incremental.strength());
    }
}
