//! What a schedule is: [`ScheduleSpec`], the form an administrator writes (and
//! the JSON of the REST API), and [`Schedule`], the same once checked that it
//! can fire, which answers when it fires and whether it is due.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use ucsync_core::{ElementKind, ElementName, SyncType};

use crate::ScheduleError;
use crate::grid::{Grid, Rule, cron_from};

/// A schedule as written: every field public, nothing checked yet.
/// [`Schedule::new`] checks it.
///
/// ```json
/// {
///   "target": {"elements": ["cm-east"]},
///   "sync_type": "incremental",
///   "first_run": "2026-03-01T03:00:00+01:00",
///   "repeat": {"every": {"n": 1, "unit": "days"}},
///   "end": null,
///   "time_zone": "Europe/Berlin",
///   "enabled": true
/// }
/// ```
///
/// `repeat` defaults to `"none"`, `end` to none, `enabled` to `true` and
/// `time_zone` to the service's setting (UTC when read with serde alone).
/// Unknown fields are refused, so a misspelt `"ends"` is not silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub target: Target,
    pub sync_type: SyncType,
    /// RFC 3339 with any offset; kept in UTC.
    pub first_run: DateTime<Utc>,
    #[serde(default)]
    pub repeat: Repeat,
    /// No fire after this instant.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// An IANA zone name; `None` means the service's configured zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// How a schedule repeats.
///
/// JSON: `"none"`, `{"every": {"n": 24, "unit": "hours"}}` or
/// `{"cron": "0 3 * * *"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RepeatBody))]
pub enum Repeat {
    /// Runs once, at the first run.
    #[default]
    None,
    /// Every `n` units from the first run. Minutes and hours are exact
    /// intervals; days and weeks keep the first run's local time of day
    /// through daylight-saving changes.
    Every(#[serde(deserialize_with = "ucsync_core::json::object")] Every),
    /// A standard five-field cron expression (minute hour day-of-month month
    /// day-of-week; a day matches when either day field does, as in Vixie
    /// cron; croner's `L`, `W`, `#` and `@daily`-style names are accepted),
    /// matched against local wall-clock time. Seconds and year fields are
    /// refused. The first fire is the first match at or after the first run.
    Cron(String),
}

/// Every `n` units from the first run; written as a JSON object of exactly
/// `n` and `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EveryBody))]
pub struct Every {
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub n: u32,
    pub unit: Unit,
}

/// The unit of [`Repeat::Every`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = UnitBody))]
pub enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::Weeks => "weeks",
        })
    }
}

/// Which elements a scheduled job syncs.
///
/// JSON: `"all"`, `{"kind": "cm"}` or `{"elements": ["cm-east", "cm-west"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Every element known when the job runs.
    All,
    /// Every element of this kind known when the job runs.
    Kind(ElementKind),
    /// These elements, at least one, each once.
    Elements(Vec<ElementName>),
}

/// Parses a time zone setting (`"UTC"`, `"Europe/Berlin"`).
pub fn parse_time_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse().map_err(|_| ScheduleError::UnknownTimeZone {
        name: name.to_string(),
    })
}

/// A schedule that can fire: its repeat, zone and end have been checked.
///
/// Serializes as its [`ScheduleSpec`], always with its `time_zone`;
/// deserializing checks again (a missing `time_zone` is UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleSpec", into = "ScheduleSpec")]
pub struct Schedule {
    target: Target,
    sync_type: SyncType,
    repeat: Repeat,
    end: Option<DateTime<Utc>>,
    enabled: bool,
    grid: Grid,
}

/// Whether a schedule is due now, and when it fires next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// `Some(slot)` when a run is due now; `slot` is the earliest slot not yet
    /// fired. Slots missed while the service was down make one run, not one
    /// each.
    pub due: Option<DateTime<Utc>>,
    /// The next fire after now (after this run, when one is due); `None` once
    /// the schedule has ended, and while it is disabled.
    pub next: Option<DateTime<Utc>>,
}

impl Schedule {
    /// Checks `spec`; `default_zone` applies when it names no zone.
    pub fn new(spec: ScheduleSpec, default_zone: Tz) -> Result<Schedule, ScheduleError> {
        // Fire times are kept to the millisecond, as they are stored: a
        // first run of finer precision would lie after the fire stored for
        // it, and fire again.
        let spec = ScheduleSpec {
            first_run: spec.first_run.trunc_subsecs(3),
            end: spec.end.map(|end| end.trunc_subsecs(3)),
            ..spec
        };
        let zone = match &spec.time_zone {
            Some(name) => parse_time_zone(name)?,
            None => default_zone,
        };
        let target = match spec.target {
            Target::All => Target::All,
            Target::Kind(kind) => Target::Kind(kind),
            Target::Elements(names) if names.is_empty() => return Err(ScheduleError::NoElements),
            Target::Elements(names) => {
                let mut unique: Vec<ElementName> = Vec::with_capacity(names.len());
                for name in names {
                    if !unique.contains(&name) {
                        unique.push(name);
                    }
                }
                Target::Elements(unique)
            }
        };
        // The first slot is the first run itself, except for a cron
        // expression: its first match at or after the first run.
        let (rule, first) = match &spec.repeat {
            Repeat::None => (Rule::Once, spec.first_run),
            Repeat::Every(Every { n: 0, unit }) => {
                return Err(ScheduleError::ZeroInterval { unit: *unit });
            }
            Repeat::Every(Every { n, unit }) => {
                let rule = match unit {
                    Unit::Minutes => Rule::Interval {
                        seconds: i64::from(*n) * 60,
                    },
                    Unit::Hours => Rule::Interval {
                        seconds: i64::from(*n) * 3600,
                    },
                    Unit::Days => Rule::Days {
                        every: u64::from(*n),
                    },
                    Unit::Weeks => Rule::Days {
                        every: u64::from(*n) * 7,
                    },
                };
                (rule, spec.first_run)
            }
            Repeat::Cron(expression) => {
                let cron = parse_cron(expression)?;
                let first = cron_from(&cron, zone, spec.first_run, true).ok_or_else(|| {
                    ScheduleError::CronNeverMatches {
                        expression: expression.clone(),
                    }
                })?;
                (Rule::Cron(Box::new(cron)), first)
            }
        };
        let grid = Grid {
            first_run: spec.first_run,
            rule,
            zone,
        };
        if let Some(end) = spec.end.filter(|end| *end < first) {
            return Err(ScheduleError::EndBeforeFirstRun {
                end,
                first_run: first,
            });
        }
        Ok(Schedule {
            target,
            sync_type: spec.sync_type,
            repeat: spec.repeat,
            end: spec.end,
            enabled: spec.enabled,
            grid,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn sync_type(&self) -> SyncType {
        self.sync_type
    }

    pub fn first_run(&self) -> DateTime<Utc> {
        self.grid.first_run
    }

    pub fn repeat(&self) -> &Repeat {
        &self.repeat
    }

    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.end
    }

    pub fn time_zone(&self) -> Tz {
        self.grid.zone
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The spec this schedule was made from, with its zone filled in: what to
    /// change for an edit.
    pub fn to_spec(&self) -> ScheduleSpec {
        ScheduleSpec::from(self.clone())
    }

    /// The fires strictly after `after` (from the very first when `None`), in
    /// order, until the end. Whether the schedule is enabled does not matter
    /// here: this is its grid, as an API would preview it.
    pub fn fires_after(
        &self,
        after: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(self.fire_after(after), |t| self.fire_after(Some(*t)))
    }

    /// Is a run due at `now`, given when the schedule last fired (`None`:
    /// never)? `last_fired` is the instant a run was started, which after
    /// missed slots is later than the slot; the grid resumes after it.
    /// Nothing is due after the end, even a slot missed before it.
    pub fn status(&self, last_fired: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Status {
        if !self.enabled {
            return Status {
                due: None,
                next: None,
            };
        }
        let pending = self.fire_after(last_fired);
        let open = self.end.is_none_or(|end| now <= end);
        match pending {
            Some(slot) if slot <= now && open => Status {
                due: Some(slot),
                next: self.fire_after(Some(now)),
            },
            _ => Status {
                due: None,
                next: pending.filter(|slot| *slot > now),
            },
        }
    }

    fn fire_after(&self, after: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let slot = match after {
            Some(t) => self.grid.after(t),
            None => self.grid.first(),
        }?;
        self.end.is_none_or(|end| slot <= end).then_some(slot)
    }
}

impl TryFrom<ScheduleSpec> for Schedule {
    type Error = ScheduleError;

    fn try_from(spec: ScheduleSpec) -> Result<Schedule, ScheduleError> {
        Schedule::new(spec, Tz::UTC)
    }
}

impl From<Schedule> for ScheduleSpec {
    fn from(s: Schedule) -> ScheduleSpec {
        ScheduleSpec {
            target: s.target,
            sync_type: s.sync_type,
            first_run: s.grid.first_run,
            repeat: s.repeat,
            end: s.end,
            time_zone: Some(s.grid.zone.name().to_string()),
            enabled: s.enabled,
        }
    }
}

/// Five fields only: seconds and years would be surprising in a schedule an
/// administrator reads as crontab.
fn parse_cron(expression: &str) -> Result<Cron, ScheduleError> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| ScheduleError::InvalidCron {
            expression: expression.to_string(),
            reason: e.to_string().trim_end_matches('.').to_string(),
        })
}
