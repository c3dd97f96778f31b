//! `ucsync alarm list|show|ack|deliveries`: the alarms on elements,
//! acknowledging them, and the delivery log of a webhook they are sent to.

use clap::Subcommand;
use reqwest::Method;
use ucsync_api::model::{AlarmPage, AlarmView, DeliveryPage};
use ucsync_core::{AlarmCondition, Severity};

use super::render::{self, opt, opt_time};
use super::{
    ApiClient, ListOutputArg, Output, OutputArg, PageArgs, print, print_json, print_listing,
};
use crate::Exit;

#[derive(Debug, Subcommand)]
pub(crate) enum AlarmCmd {
    /// Alarms, the last seen first: the open ones unless --state says otherwise.
    List {
        /// Only this element's alarms.
        #[arg(long, value_name = "ELEMENT")]
        element: Option<String>,
        /// Only alarms of this severity: critical, major, minor or warning.
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        /// Only alarms of this condition: sync-failed, sync-refused,
        /// unreachable, login-refused, identity-changed, history-wrapped,
        /// notify-silent or schedule-missed.
        #[arg(long, value_parser = parse_condition)]
        condition: Option<AlarmCondition>,
        /// open, cleared or all.
        #[arg(long, default_value = "open", value_parser = ["open", "cleared", "all"])]
        state: String,
        /// Only unacknowledged alarms.
        #[arg(long)]
        unacked: bool,
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
    /// One alarm.
    Show {
        /// The alarm's number.
        id: i64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Acknowledge an alarm (it stays until its condition ends).
    Ack {
        /// The alarm's number.
        id: i64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// A webhook's delivery log: each attempt to deliver an alarm, newest first.
    Deliveries {
        /// The webhook's name in the service's settings.
        webhook: String,
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

fn parse_condition(s: &str) -> Result<AlarmCondition, String> {
    s.parse()
}

pub(super) async fn run(client: &ApiClient, cmd: AlarmCmd) -> Result<(), Exit> {
    match cmd {
        AlarmCmd::List {
            element,
            severity,
            condition,
            state,
            unacked,
            page,
            output,
        } => {
            let mut q = vec![("state", state)];
            if let Some(e) = element {
                q.push(("element", e));
            }
            if let Some(s) = severity {
                q.push(("severity", s.to_string()));
            }
            if let Some(c) = condition {
                q.push(("condition", c.to_string()));
            }
            if unacked {
                q.push(("acked", "false".into()));
            }
            q.extend(page.query());
            let v = client.get_value(&["alarms"], &q).await?;
            print_listing(client, v, output.output, list_table)
        }
        AlarmCmd::Show { id, output } => {
            let v = client.get_value(&["alarms", &id.to_string()], &[]).await?;
            show(client, v, output.output)
        }
        AlarmCmd::Ack { id, output } => {
            let v = client
                .call(
                    Method::POST,
                    &["alarms", &id.to_string(), "ack"],
                    &[],
                    None::<&()>,
                )
                .await?;
            show(client, v, output.output)
        }
        AlarmCmd::Deliveries {
            webhook,
            page,
            output,
        } => {
            let v = client
                .get_value(&["webhooks", &webhook, "deliveries"], &page.query())
                .await?;
            print_listing(client, v, output.output, deliveries_table)
        }
    }
}

fn show(client: &ApiClient, v: serde_json::Value, output: Output) -> Result<(), Exit> {
    match output {
        Output::Json => print_json(&v),
        Output::Table => {
            let a: AlarmView = client.typed(v)?;
            print(&render::fields(&[
                ("id", a.id.to_string()),
                ("element", a.element.clone()),
                ("condition", a.condition.to_string()),
                ("severity", a.severity.to_string()),
                ("state", a.state.clone()),
                ("cause", a.cause.clone()),
                ("first seen", render::time(&a.first_seen)),
                ("last seen", render::time(&a.last_seen)),
                ("count", a.count.to_string()),
                ("cleared", opt_time(a.cleared_at.as_deref())),
                ("acked by", opt(a.acked_by.as_deref())),
                ("acked", opt_time(a.acked_at.as_deref())),
            ]))
        }
    }
}

pub(super) fn list_table(page: &AlarmPage) -> render::Listing {
    let mut t = render::table(&[
        "ID",
        "ELEMENT",
        "SEVERITY",
        "CONDITION",
        "STATE",
        "COUNT",
        "LAST SEEN",
        "ACKED BY",
        "CAUSE",
    ]);
    for a in &page.items {
        t.add_row([
            a.id.to_string(),
            a.element.clone(),
            a.severity.to_string(),
            a.condition.to_string(),
            a.state.clone(),
            a.count.to_string(),
            render::time(&a.last_seen),
            opt(a.acked_by.as_deref()),
            a.cause.clone(),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "alarm",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}

pub(super) fn deliveries_table(page: &DeliveryPage) -> render::Listing {
    let mut t = render::table(&[
        "ID",
        "ALARM",
        "EVENT",
        "ATTEMPT",
        "AT",
        "STATUS",
        "DELIVERED",
        "ERROR",
    ]);
    for d in &page.items {
        t.add_row([
            d.id.to_string(),
            d.alarm_id.to_string(),
            d.event.clone(),
            d.attempt.to_string(),
            render::time(&d.at),
            d.status.map_or_else(|| "-".into(), |s| s.to_string()),
            if d.delivered { "yes" } else { "no" }.into(),
            opt(d.error.as_deref()),
        ]);
    }
    render::listing(
        t,
        render::page_footer(
            "delivery",
            page.items.len(),
            page.offset,
            page.limit,
            page.total,
        ),
    )
}
