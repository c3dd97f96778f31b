//! `ucsync schedule list|show|add|edit|remove`: when sync jobs run by
//! themselves.

use anyhow::anyhow;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use clap::{ArgGroup, Args, Subcommand};
use reqwest::Method;
use ucsync_api::model::{
    Every, NewScheduleBody, Repeat, SchedulePage, SchedulePatch, ScheduleView, TargetBody, Unit,
};
use ucsync_core::SyncType;

use super::render::{self, opt};
use super::{
    ApiClient, ApiFailure, ListOutputArg, Output, OutputArg, PageArgs, confirm, print, print_json,
    print_listing,
};
use crate::{Exit, FAILED, bad_input};

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCmd {
    /// All schedules, with when each fires next.
    List {
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
    /// One schedule.
    Show {
        /// The schedule's number.
        id: i64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Add a schedule.
    Add(AddArgs),
    /// Change a schedule; only the flags given change.
    Edit(EditArgs),
    /// Remove a schedule (asks first).
    Remove {
        /// The schedule's number.
        id: i64,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["elements", "kind", "all"])))]
#[command(group(ArgGroup::new("repeat").args(["every", "cron"])))]
pub(crate) struct AddArgs {
    /// Its name [default: a description of what it does].
    #[arg(long)]
    pub name: Option<String>,
    /// An element it syncs (repeatable).
    #[arg(long = "element", value_name = "ELEMENT")]
    pub elements: Vec<String>,
    /// Every element of this kind (cm, ip-office, messaging, cm-messaging,
    /// modular-messaging), as they are when the schedule fires.
    #[arg(long)]
    pub kind: Option<String>,
    /// Every element, as it is when the schedule fires.
    #[arg(long)]
    pub all: bool,
    /// incremental, init or force-init.
    #[arg(long = "type", value_parser = parse_sync_type)]
    pub sync_type: SyncType,
    /// The first run: a local time in --time-zone (2025-01-31T03:00), or
    /// RFC 3339 with an offset (2025-01-31T03:00:00Z).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub first_run: TimeArg,
    /// Repeat every "N minutes|hours|days|weeks" from the first run.
    #[arg(long, value_parser = parse_every, value_name = "N UNIT")]
    pub every: Option<Every>,
    /// Repeat by a cron expression: five fields, local wall-clock time.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// No run after this time (like --first-run).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub end: Option<TimeArg>,
    /// An IANA zone (Europe/Berlin) [default: the service's].
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub time_zone: Option<Tz>,
    /// Add it switched off.
    #[arg(long)]
    pub disabled: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").args(["elements", "kind", "all"])))]
#[command(group(ArgGroup::new("repeat").args(["every", "cron", "once"])))]
#[command(group(ArgGroup::new("end_group").args(["end", "no_end"])))]
#[command(group(ArgGroup::new("zone").args(["time_zone", "no_time_zone"])))]
#[command(group(ArgGroup::new("switch").args(["enabled", "disabled"])))]
pub(crate) struct EditArgs {
    /// The schedule's number.
    pub id: i64,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// The elements it syncs (repeatable; replaces the target).
    #[arg(long = "element", value_name = "ELEMENT")]
    pub elements: Vec<String>,
    /// Sync every element of this kind, as they are when the schedule fires
    /// (replaces the target).
    #[arg(long)]
    pub kind: Option<String>,
    /// Sync every element, as it is when the schedule fires.
    #[arg(long)]
    pub all: bool,
    /// incremental, init or force-init.
    #[arg(long = "type", value_parser = parse_sync_type)]
    pub sync_type: Option<SyncType>,
    /// The first run: a local time in the schedule's zone (2025-01-31T03:00),
    /// or RFC 3339 with an offset (2025-01-31T03:00:00Z).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub first_run: Option<TimeArg>,
    /// Repeat every "N minutes|hours|days|weeks" from the first run.
    #[arg(long, value_parser = parse_every, value_name = "N UNIT")]
    pub every: Option<Every>,
    /// Repeat by a cron expression: five fields, local wall-clock time.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Run once, at the first run, and not again.
    #[arg(long)]
    pub once: bool,
    /// No run after this time (like --first-run).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub end: Option<TimeArg>,
    /// Remove the end.
    #[arg(long)]
    pub no_end: bool,
    /// An IANA zone (Europe/Berlin).
    #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
    pub time_zone: Option<Tz>,
    /// Use the service's time zone.
    #[arg(long)]
    pub no_time_zone: bool,
    /// Switch it on.
    #[arg(long)]
    pub enabled: bool,
    /// Switch it off: it does not fire until switched on.
    #[arg(long)]
    pub disabled: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

fn parse_sync_type(s: &str) -> Result<SyncType, String> {
    s.parse()
}

/// A time as given: an instant (with an offset), or a wall-clock time read
/// in the schedule's zone once that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeArg {
    At(DateTime<Utc>),
    Local(NaiveDateTime),
}

fn parse_time(s: &str) -> Result<TimeArg, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(TimeArg::At(t.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(TimeArg::Local)
        .ok_or_else(|| {
            format!(
                "{s:?} is not a time: give a local one such as 2025-01-31T03:00, or RFC 3339 such as 2025-01-31T03:00:00Z"
            )
        })
}

fn parse_zone(s: &str) -> Result<Tz, String> {
    ucsync_schedule::parse_time_zone(s.trim()).map_err(|_| {
        format!("{s:?} is not a known time zone: use an IANA name such as Europe/Berlin or UTC")
    })
}

impl TimeArg {
    fn is_local(&self) -> bool {
        matches!(self, TimeArg::Local(_))
    }

    /// The instant, reading a local time in `zone`; `flag` names it in errors.
    pub(crate) fn resolve(self, zone: Option<Tz>, flag: &str) -> Result<DateTime<Utc>, Exit> {
        let local = match self {
            TimeArg::At(t) => return Ok(t),
            TimeArg::Local(l) => l,
        };
        let Some(zone) = zone else {
            return Err(bad_input(anyhow!(
                "{flag} {local} has no offset: give --time-zone to read it in, or an offset such as {}Z",
                local.format("%Y-%m-%dT%H:%M:%S")
            )));
        };
        // In the hour the clocks go back, the first of the two.
        zone.from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                bad_input(anyhow!(
                    "{flag} {local} does not exist in {zone} (the clocks go forward then): give another time"
                ))
            })
    }
}

/// `"2 hours"`, `"1 day"`, `"30m"`, `"1w"`: a count and a unit.
pub(super) fn parse_every(s: &str) -> Result<Every, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let bad = || format!("{s:?} is not \"N minutes|hours|days|weeks\" (like \"6 hours\")");
    let n: u32 = n.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(format!("{s:?}: the count must be at least 1"));
    }
    let unit = match unit.trim().to_ascii_lowercase().as_str() {
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minutes,
        "h" | "hour" | "hours" => Unit::Hours,
        "d" | "day" | "days" => Unit::Days,
        "w" | "week" | "weeks" => Unit::Weeks,
        _ => return Err(bad()),
    };
    Ok(Every { n, unit })
}

fn target(elements: &[String], kind: Option<&str>, all: bool) -> Option<TargetBody> {
    if all {
        Some(TargetBody::All)
    } else if let Some(kind) = kind {
        Some(TargetBody::Kind(kind.to_string()))
    } else if !elements.is_empty() {
        Some(TargetBody::Elements(elements.to_vec()))
    } else {
        None
    }
}

impl AddArgs {
    pub(crate) fn body(&self) -> Result<NewScheduleBody, Exit> {
        let zone = self.time_zone;
        Ok(NewScheduleBody {
            name: self.name.clone(),
            target: target(&self.elements, self.kind.as_deref(), self.all)
                .unwrap_or(TargetBody::All),
            sync_type: self.sync_type,
            first_run: self.first_run.resolve(zone, "--first-run")?,
            repeat: match (&self.every, &self.cron) {
                (Some(e), _) => Repeat::Every(*e),
                (None, Some(c)) => Repeat::Cron(c.clone()),
                (None, None) => Repeat::None,
            },
            end: self.end.map(|e| e.resolve(zone, "--end")).transpose()?,
            time_zone: zone.map(|z| z.name().to_string()),
            enabled: self.disabled.then_some(false),
        })
    }
}

impl EditArgs {
    /// Whether a time was given without an offset, to be read in the
    /// schedule's zone.
    pub(crate) fn has_local_time(&self) -> bool {
        self.first_run.is_some_and(|t| t.is_local()) || self.end.is_some_and(|t| t.is_local())
    }

    /// The change; a local time is read in --time-zone, else in `zone`
    /// (the schedule's).
    pub(crate) fn patch(&self, zone: Option<Tz>) -> Result<SchedulePatch, Exit> {
        let zone = self.time_zone.or(zone);
        let patch = SchedulePatch {
            name: self.name.clone(),
            target: target(&self.elements, self.kind.as_deref(), self.all),
            sync_type: self.sync_type,
            first_run: self
                .first_run
                .map(|t| t.resolve(zone, "--first-run"))
                .transpose()?,
            repeat: match (&self.every, &self.cron, self.once) {
                (Some(e), _, _) => Some(Repeat::Every(*e)),
                (None, Some(c), _) => Some(Repeat::Cron(c.clone())),
                (None, None, true) => Some(Repeat::None),
                (None, None, false) => None,
            },
            end: match (self.end, self.no_end) {
                (Some(e), _) => Some(Some(e.resolve(zone, "--end")?)),
                (None, true) => Some(None),
                (None, false) => None,
            },
            time_zone: match (&self.time_zone, self.no_time_zone) {
                (Some(z), _) => Some(Some(z.name().to_string())),
                (None, true) => Some(None),
                (None, false) => None,
            },
            enabled: match (self.enabled, self.disabled) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
        };
        let empty = serde_json::to_value(&patch)
            .map(|v| v.as_object().is_some_and(|o| o.is_empty()))
            .unwrap_or(false);
        if empty {
            return Err(bad_input(anyhow!(
                "nothing to change: give at least one setting, such as --every or --disabled"
            )));
        }
        Ok(patch)
    }
}

pub(super) async fn run(client: &ApiClient, cmd: ScheduleCmd) -> Result<(), Exit> {
    match cmd {
        ScheduleCmd::List { page, output } => {
            let v = client.get_value(&["schedules"], &page.query()).await?;
            print_listing(client, v, output.output, list_table)
        }
        ScheduleCmd::Show { id, output } => {
            let v = client
                .get_value(&["schedules", &id.to_string()], &[])
                .await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => print(&show_table(&client.typed(v)?)),
            }
        }
        ScheduleCmd::Add(args) => {
            let v = client
                .call(Method::POST, &["schedules"], &[], Some(&args.body()?))
                .await
                .map_err(in_flags)?;
            match args.output.output {
                Output::Json => print_json(&v),
                Output::Table => {
                    let s: ScheduleView = client.typed(v)?;
                    print(&format!("added schedule {}", s.id))?;
                    print(&show_table(&s))
                }
            }
        }
        ScheduleCmd::Edit(args) => {
            let id = args.id.to_string();
            // A local time is read in the schedule's zone unless --time-zone gives one.
            let zone = if args.has_local_time() && args.time_zone.is_none() && !args.no_time_zone {
                let s: ScheduleView = client.get(&["schedules", &id], &[]).await?;
                s.time_zone.parse::<Tz>().ok()
            } else {
                None
            };
            let patch = args.patch(zone)?;
            let v = client
                .call(Method::PATCH, &["schedules", &id], &[], Some(&patch))
                .await
                .map_err(in_flags)?;
            match args.output.output {
                Output::Json => print_json(&v),
                Output::Table => {
                    let s: ScheduleView = client.typed(v)?;
                    print(&format!("changed schedule {}", s.id))?;
                    print(&show_table(&s))
                }
            }
        }
        ScheduleCmd::Remove { id, yes } => {
            if !yes {
                let s: ScheduleView = client.get(&["schedules", &id.to_string()], &[]).await?;
                let question = format!(
                    "Remove schedule {} ({}: {} of {}, {})?",
                    s.id,
                    s.name,
                    s.sync_type,
                    target_text(&s.target),
                    repeat_text(&s.repeat)
                );
                if !confirm(&question, "removing a schedule")? {
                    return Err(Exit {
                        code: FAILED,
                        error: anyhow!("nothing was done: the answer was not yes"),
                    });
                }
            }
            client
                .call(
                    Method::DELETE,
                    &["schedules", &id.to_string()],
                    &[],
                    None::<&()>,
                )
                .await?;
            print(&format!("removed schedule {id}"))
        }
    }
}

/// The API's fields of a schedule and the flags that set them, so an error
/// names what the user typed.
const FLAGS: &[(&str, &str)] = &[
    ("repeat.every.n", "--every"),
    ("repeat.cron", "--cron"),
    ("first_run", "--first-run"),
    ("time_zone", "--time-zone"),
    ("target.elements", "--element"),
    ("target.kind", "--kind"),
    ("sync_type", "--type"),
    ("end", "--end"),
    ("name", "--name"),
];

/// An API error about a schedule's field, told in the CLI's flags.
pub(super) fn in_flags(e: Exit) -> Exit {
    let Some(failure) = e.error.downcast_ref::<ApiFailure>() else {
        return e;
    };
    let Some(field) = failure.field.as_deref() else {
        return e;
    };
    let Some((api, flag)) = FLAGS.iter().find(|(api, _)| {
        field == *api
            || field.starts_with(&format!("{api}."))
            || field.starts_with(&format!("{api}["))
    }) else {
        return e;
    };
    let mut message = failure.message.clone();
    // The names that cannot be words of a sentence.
    for (api, flag) in FLAGS.iter().filter(|(a, _)| a.contains(['.', '_'])) {
        message = message.replace(api, flag);
    }
    if let Some(rest) = message.strip_prefix(&format!("{api} ")) {
        message = format!("{flag} {rest}");
    }
    if !message.starts_with(flag) {
        message = format!("{flag}: {message}");
    }
    Exit {
        code: e.code,
        error: anyhow!(message),
    }
}

/// A time in the schedule's zone, with the zone's abbreviation (CET, UTC).
pub(super) fn zoned(t: &DateTime<Utc>, zone: &str) -> String {
    match zone.parse::<Tz>() {
        Ok(z) => t
            .with_timezone(&z)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        Err(_) => render::time(&t.to_rfc3339()),
    }
}

fn opt_zoned(t: Option<&str>, zone: &str) -> String {
    match t.map(DateTime::parse_from_rfc3339) {
        Some(Ok(t)) => zoned(&t.with_timezone(&Utc), zone),
        Some(Err(_)) => t.unwrap_or_default().to_string(),
        None => "-".into(),
    }
}

pub(super) fn repeat_text(r: &Repeat) -> String {
    match r {
        Repeat::None => "once".into(),
        Repeat::Every(e) => {
            let unit = match (e.unit, e.n == 1) {
                (Unit::Minutes, true) => "minute",
                (Unit::Minutes, false) => "minutes",
                (Unit::Hours, true) => "hour",
                (Unit::Hours, false) => "hours",
                (Unit::Days, true) => "day",
                (Unit::Days, false) => "days",
                (Unit::Weeks, true) => "week",
                (Unit::Weeks, false) => "weeks",
            };
            if e.n == 1 {
                format!("every {unit}")
            } else {
                format!("every {} {unit}", e.n)
            }
        }
        Repeat::Cron(c) => format!("cron {c}"),
    }
}

fn target_text(t: &TargetBody) -> String {
    match t {
        TargetBody::All => "all elements".into(),
        TargetBody::Kind(kind) => format!("every {kind} element"),
        TargetBody::Elements(names) => names.join(", "),
    }
}

pub(super) fn list_table(page: &SchedulePage) -> render::Listing {
    let mut t = render::table(&[
        "ID",
        "NAME",
        "TARGET",
        "TYPE",
        "REPEAT",
        "ZONE",
        "NEXT DUE",
        "LAST FIRED",
        "ENABLED",
    ]);
    for s in &page.items {
        t.add_row([
            s.id.to_string(),
            s.name.clone(),
            target_text(&s.target),
            s.sync_type.to_string(),
            repeat_text(&s.repeat),
            s.time_zone.clone(),
            opt_zoned(s.next_due.as_deref(), &s.time_zone),
            opt_zoned(s.last_fired.as_deref(), &s.time_zone),
            if s.enabled { "yes" } else { "no" }.into(),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "schedule",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}

pub(super) fn show_table(s: &ScheduleView) -> String {
    render::fields(&[
        ("id", s.id.to_string()),
        ("name", s.name.clone()),
        ("default for", opt(s.default_for.as_deref())),
        ("target", target_text(&s.target)),
        ("type", s.sync_type.to_string()),
        ("time zone", s.time_zone.clone()),
        ("first run", zoned(&s.first_run, &s.time_zone)),
        ("repeat", repeat_text(&s.repeat)),
        (
            "end",
            s.end
                .map(|e| zoned(&e, &s.time_zone))
                .unwrap_or_else(|| "-".into()),
        ),
        ("enabled", if s.enabled { "yes" } else { "no" }.into()),
        ("next due", opt_zoned(s.next_due.as_deref(), &s.time_zone)),
        (
            "last fired",
            opt_zoned(s.last_fired.as_deref(), &s.time_zone),
        ),
        ("created", render::time(&s.created_at)),
    ])
}
