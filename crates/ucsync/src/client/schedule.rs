//! `ucsync schedule list|show|add|edit|remove`: when sync jobs run by
//! themselves.

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, Subcommand};
use reqwest::Method;
use ucsync_api::model::{
    EveryBody, NewScheduleBody, RepeatBody, SchedulePage, SchedulePatch, ScheduleView, TargetBody,
    UnitBody,
};
use ucsync_core::SyncType;

use super::render::{self, opt, opt_time};
use super::{
    ApiClient, ListOutputArg, Output, OutputArg, PageArgs, print, print_json, print_listing,
};
use crate::{Exit, bad_input};

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
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
    /// Remove a schedule.
    Remove {
        /// The schedule's number.
        id: i64,
    },
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["elements", "all"])))]
#[command(group(ArgGroup::new("repeat").args(["every", "cron"])))]
pub struct AddArgs {
    /// Its name [default: a description of what it does].
    #[arg(long)]
    pub name: Option<String>,
    /// An element it syncs (repeatable).
    #[arg(long = "element", value_name = "ELEMENT")]
    pub elements: Vec<String>,
    /// Every element, as it is when the schedule fires.
    #[arg(long)]
    pub all: bool,
    /// incremental, init or force-init.
    #[arg(long = "type", value_parser = parse_sync_type)]
    pub sync_type: SyncType,
    /// The first run, RFC 3339 (2025-01-31T03:00:00Z, or with an offset).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub first_run: DateTime<Utc>,
    /// Repeat every "N minutes|hours|days|weeks" from the first run.
    #[arg(long, value_parser = parse_every, value_name = "N UNIT")]
    pub every: Option<EveryBody>,
    /// Repeat by a cron expression: five fields, local wall-clock time.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// No run after this time (RFC 3339).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub end: Option<DateTime<Utc>>,
    /// An IANA zone (Europe/Berlin) [default: the service's].
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// Add it switched off.
    #[arg(long)]
    pub disabled: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").args(["elements", "all"])))]
#[command(group(ArgGroup::new("repeat").args(["every", "cron", "once"])))]
#[command(group(ArgGroup::new("end_group").args(["end", "no_end"])))]
#[command(group(ArgGroup::new("zone").args(["time_zone", "no_time_zone"])))]
#[command(group(ArgGroup::new("switch").args(["enabled", "disabled"])))]
pub struct EditArgs {
    /// The schedule's number.
    pub id: i64,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// The elements it syncs (repeatable; replaces the target).
    #[arg(long = "element", value_name = "ELEMENT")]
    pub elements: Vec<String>,
    /// Sync every element, as it is when the schedule fires.
    #[arg(long)]
    pub all: bool,
    /// incremental, init or force-init.
    #[arg(long = "type", value_parser = parse_sync_type)]
    pub sync_type: Option<SyncType>,
    /// The first run, RFC 3339 (2025-01-31T03:00:00Z, or with an offset).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub first_run: Option<DateTime<Utc>>,
    /// Repeat every "N minutes|hours|days|weeks" from the first run.
    #[arg(long, value_parser = parse_every, value_name = "N UNIT")]
    pub every: Option<EveryBody>,
    /// Repeat by a cron expression: five fields, local wall-clock time.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Run once, at the first run, and not again.
    #[arg(long)]
    pub once: bool,
    /// No run after this time (RFC 3339).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub end: Option<DateTime<Utc>>,
    /// Remove the end.
    #[arg(long)]
    pub no_end: bool,
    /// An IANA zone (Europe/Berlin).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
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

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: give an RFC 3339 time such as 2025-01-31T03:00:00Z"))
}

/// `"2 hours"`, `"1 day"`, `"30m"`, `"1w"`: a count and a unit.
pub fn parse_every(s: &str) -> Result<EveryBody, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let bad = || format!("{s:?} is not \"N minutes|hours|days|weeks\" (like \"6 hours\")");
    let n: u32 = n.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(format!("{s:?}: the count must be at least 1"));
    }
    let unit = match unit.trim().to_ascii_lowercase().as_str() {
        "m" | "min" | "mins" | "minute" | "minutes" => UnitBody::Minutes,
        "h" | "hour" | "hours" => UnitBody::Hours,
        "d" | "day" | "days" => UnitBody::Days,
        "w" | "week" | "weeks" => UnitBody::Weeks,
        _ => return Err(bad()),
    };
    Ok(EveryBody { n, unit })
}

fn target(elements: &[String], all: bool) -> Option<TargetBody> {
    if all {
        Some(TargetBody::All)
    } else if !elements.is_empty() {
        Some(TargetBody::Elements(elements.to_vec()))
    } else {
        None
    }
}

impl AddArgs {
    pub fn body(&self) -> NewScheduleBody {
        NewScheduleBody {
            name: self.name.clone(),
            target: target(&self.elements, self.all).unwrap_or(TargetBody::All),
            sync_type: self.sync_type,
            first_run: self.first_run,
            repeat: match (&self.every, &self.cron) {
                (Some(e), _) => RepeatBody::Every(e.clone()),
                (None, Some(c)) => RepeatBody::Cron(c.clone()),
                (None, None) => RepeatBody::None,
            },
            end: self.end,
            time_zone: self.time_zone.clone(),
            enabled: self.disabled.then_some(false),
        }
    }
}

impl EditArgs {
    pub fn patch(&self) -> Result<SchedulePatch, Exit> {
        let patch = SchedulePatch {
            name: self.name.clone(),
            target: target(&self.elements, self.all),
            sync_type: self.sync_type,
            first_run: self.first_run,
            repeat: match (&self.every, &self.cron, self.once) {
                (Some(e), _, _) => Some(RepeatBody::Every(e.clone())),
                (None, Some(c), _) => Some(RepeatBody::Cron(c.clone())),
                (None, None, true) => Some(RepeatBody::None),
                (None, None, false) => None,
            },
            end: match (self.end, self.no_end) {
                (Some(e), _) => Some(Some(e)),
                (None, true) => Some(None),
                (None, false) => None,
            },
            time_zone: match (&self.time_zone, self.no_time_zone) {
                (Some(z), _) => Some(Some(z.clone())),
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

pub async fn run(client: &ApiClient, cmd: ScheduleCmd) -> Result<(), Exit> {
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
                .call(Method::POST, &["schedules"], &[], Some(&args.body()))
                .await?;
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
            let patch = args.patch()?;
            let v = client
                .call(
                    Method::PATCH,
                    &["schedules", &args.id.to_string()],
                    &[],
                    Some(&patch),
                )
                .await?;
            match args.output.output {
                Output::Json => print_json(&v),
                Output::Table => {
                    let s: ScheduleView = client.typed(v)?;
                    print(&format!("changed schedule {}", s.id))?;
                    print(&show_table(&s))
                }
            }
        }
        ScheduleCmd::Remove { id } => {
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

pub fn repeat_text(r: &RepeatBody) -> String {
    match r {
        RepeatBody::None => "once".into(),
        RepeatBody::Every(e) => {
            let unit = match (e.unit, e.n == 1) {
                (UnitBody::Minutes, true) => "minute",
                (UnitBody::Minutes, false) => "minutes",
                (UnitBody::Hours, true) => "hour",
                (UnitBody::Hours, false) => "hours",
                (UnitBody::Days, true) => "day",
                (UnitBody::Days, false) => "days",
                (UnitBody::Weeks, true) => "week",
                (UnitBody::Weeks, false) => "weeks",
            };
            if e.n == 1 {
                format!("every {unit}")
            } else {
                format!("every {} {unit}", e.n)
            }
        }
        RepeatBody::Cron(c) => format!("cron {c}"),
    }
}

fn target_text(t: &TargetBody) -> String {
    match t {
        TargetBody::All => "all elements".into(),
        TargetBody::Elements(names) => names.join(", "),
    }
}

pub fn list_table(page: &SchedulePage) -> render::Listing {
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
            opt_time(s.next_due.as_deref()),
            opt_time(s.last_fired.as_deref()),
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

pub fn show_table(s: &ScheduleView) -> String {
    render::fields(&[
        ("id", s.id.to_string()),
        ("name", s.name.clone()),
        ("default for", opt(s.default_for.as_deref())),
        ("target", target_text(&s.target)),
        ("type", s.sync_type.to_string()),
        ("first run", render::time(&s.first_run.to_rfc3339())),
        ("repeat", repeat_text(&s.repeat)),
        (
            "end",
            s.end
                .map(|e| render::time(&e.to_rfc3339()))
                .unwrap_or_else(|| "-".into()),
        ),
        ("time zone", s.time_zone.clone()),
        ("enabled", if s.enabled { "yes" } else { "no" }.into()),
        ("next due", opt_time(s.next_due.as_deref())),
        ("last fired", opt_time(s.last_fired.as_deref())),
        ("created", render::time(&s.created_at)),
    ])
}
