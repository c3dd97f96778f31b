//! The bodies of `/schedules`: a schedule to add or change, parsed into
//! `ucsync-schedule`'s specification, and a schedule as shown.
//!
//! How a schedule repeats is `ucsync-schedule`'s [`Repeat`] itself (its
//! `openapi` feature makes it the document's `RepeatBody`). The target is
//! the API's own [`TargetBody`]: element names as written, checked here so
//! that the one at fault is named (`target.elements[1]`), and turned into
//! `ucsync-schedule`'s [`Target`] by `TryFrom`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ucsync_core::{ElementName, SyncType};
use ucsync_schedule::Target;
/// The schedule's repeat as `ucsync-schedule` defines it: the API's JSON.
pub use ucsync_schedule::{Every, Repeat, Unit};
use ucsync_store as store;
use utoipa::ToSchema;

use super::paging::page;
use super::{FieldError, SyncTypeSchema, non_empty, present};

page!(SchedulePage, ScheduleView, "A page of schedules.");

/// Which elements a scheduled job syncs: `"all"`, `{"kind": "cm"}` (every
/// element of a kind: `cm`, `ip-office`, `messaging`, `cm-messaging`,
/// `modular-messaging`) or `{"elements": [...]}`; `all` and `kind` take
/// the elements there are when it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetBody {
    All,
    Kind(String),
    Elements(Vec<String>),
}

/// A schedule to add.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScheduleBody {
    /// Defaults to a description of what it does. At most 200 characters.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: Option<String>,
    pub target: TargetBody,
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    /// RFC 3339, any offset.
    pub first_run: DateTime<Utc>,
    #[serde(default)]
    pub repeat: Repeat,
    /// No run after this instant.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// An IANA zone name; the service's setting when not given.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A change to a schedule: absent fields stay; `null` clears `end` and
/// `time_zone` (the service's zone then applies).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 200,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SyncTypeSchema>)]
    pub sync_type: Option<SyncType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_run: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub end: Option<Option<DateTime<Utc>>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A schedule with the scheduler's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    pub id: i64,
    pub name: String,
    /// Set for an element's default schedule (removed with the element).
    pub default_for: Option<String>,
    pub target: TargetBody,
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    pub first_run: DateTime<Utc>,
    pub repeat: Repeat,
    pub end: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub enabled: bool,
    pub last_fired: Option<String>,
    pub next_due: Option<String>,
    pub created_at: String,
}

/// A target's element names are checked here, naming the one at fault.
impl TryFrom<&TargetBody> for Target {
    type Error = FieldError;

    fn try_from(t: &TargetBody) -> Result<Target, FieldError> {
        Ok(match t {
            TargetBody::All => Target::All,
            TargetBody::Kind(kind) => Target::Kind(kind.parse().map_err(|e: String| {
                FieldError::new("target.kind", format!("target.kind: {e}"))
            })?),
            TargetBody::Elements(names) => Target::Elements(
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        ElementName::parse(n).map_err(|e| {
                            FieldError::new(
                                format!("target.elements[{i}]"),
                                format!("target.elements[{i}]: {e}"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

impl From<&Target> for TargetBody {
    fn from(t: &Target) -> TargetBody {
        match t {
            Target::All => TargetBody::All,
            Target::Kind(k) => TargetBody::Kind(k.to_string()),
            Target::Elements(n) => TargetBody::Elements(n.iter().map(|n| n.to_string()).collect()),
        }
    }
}

fn schedule_name(
    name: Option<&str>,
    spec: &ucsync_schedule::ScheduleSpec,
) -> Result<String, FieldError> {
    match name {
        Some(n) => {
            let n = non_empty("name", n)?;
            if n.chars().count() > 200 {
                return Err(FieldError::new(
                    "name",
                    "name is longer than 200 characters",
                ));
            }
            Ok(n)
        }
        None => Ok(match &spec.target {
            Target::All => format!("{} of all elements", spec.sync_type),
            Target::Kind(kind) => format!("{} of every {kind} element", spec.sync_type),
            Target::Elements(names) => format!(
                "{} of {}",
                spec.sync_type,
                names
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

impl NewScheduleBody {
    /// The name and specification; [`ucsync_schedule::Schedule::new`]
    /// checks whether it can fire.
    pub fn parse(&self) -> Result<(String, ucsync_schedule::ScheduleSpec), FieldError> {
        let spec = ucsync_schedule::ScheduleSpec {
            target: Target::try_from(&self.target)?,
            sync_type: self.sync_type,
            first_run: self.first_run,
            repeat: self.repeat.clone(),
            end: self.end,
            time_zone: self.time_zone.clone(),
            enabled: self.enabled.unwrap_or(true),
        };
        Ok((schedule_name(self.name.as_deref(), &spec)?, spec))
    }
}

impl SchedulePatch {
    /// The name and specification after the patch.
    pub fn apply(
        &self,
        name: &str,
        spec: &ucsync_schedule::ScheduleSpec,
    ) -> Result<(String, ucsync_schedule::ScheduleSpec), FieldError> {
        let mut spec = spec.clone();
        if let Some(t) = &self.target {
            spec.target = Target::try_from(t)?;
        }
        if let Some(t) = self.sync_type {
            spec.sync_type = t;
        }
        if let Some(t) = self.first_run {
            spec.first_run = t;
        }
        if let Some(r) = &self.repeat {
            spec.repeat = r.clone();
        }
        if let Some(e) = self.end {
            spec.end = e;
        }
        if let Some(z) = &self.time_zone {
            spec.time_zone = z.clone();
        }
        if let Some(e) = self.enabled {
            spec.enabled = e;
        }
        let name = match &self.name {
            Some(n) => schedule_name(Some(n), &spec)?,
            None => name.to_string(),
        };
        Ok((name, spec))
    }
}

impl ScheduleView {
    /// `schedule` is the record's specification, checked.
    pub fn new(r: &store::ScheduleRecord, schedule: &ucsync_schedule::Schedule) -> ScheduleView {
        let spec = schedule.to_spec();
        ScheduleView {
            id: r.id,
            name: r.name.clone(),
            default_for: r.default_for.clone(),
            target: TargetBody::from(&spec.target),
            sync_type: spec.sync_type,
            first_run: spec.first_run,
            repeat: spec.repeat.clone(),
            end: spec.end,
            time_zone: schedule.time_zone().name().to_string(),
            enabled: spec.enabled,
            last_fired: r.last_fired.map(store::time_text),
            next_due: r.next_due.map(store::time_text),
            created_at: store::time_text(r.created_at),
        }
    }
}
