//! `ucsync job list|show|changes|plan|apply|stop`: sync jobs, what they
//! did (or, for a dry run, would do), applying a plan, and stopping one.

use clap::Subcommand;
use reqwest::Method;
use ucsync_api::model::{ChangePage, JobPage, JobView, PlanView};
use ucsync_core::JobState;

use super::render::{self, count, opt, opt_time};
use super::sync::{plan_text, progress, status_line, summary_line};
use super::{
    ApiClient, ListOutputArg, Output, OutputArg, PageArgs, print, print_json, print_listing,
};
use crate::Exit;

#[derive(Debug, Subcommand)]
pub(crate) enum JobCmd {
    /// Jobs, newest first.
    List {
        /// Only this element's jobs.
        #[arg(long, value_name = "ELEMENT")]
        element: Option<String>,
        /// Only jobs in this state: queued, waiting (an init waiting for a
        /// place in the init pool), running, stopping, stopped, succeeded or
        /// failed.
        #[arg(long, value_parser = parse_state)]
        state: Option<JobState>,
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
    /// One job: its progress per object type, its counts, its log (the rows
    /// it skipped and why, why it became an init) and the first of the
    /// changes it made.
    Show {
        /// The job's number.
        id: i64,
        /// How many of its changes to list with it (table output).
        #[arg(long, default_value_t = 20, value_name = "N")]
        changes: u64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The object changes a job applied (or, for a dry run or an init the
    /// discrepancy check refused, would apply, with each add's and change's
    /// fields, field by field).
    Changes {
        /// The job's number.
        id: i64,
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        output: ListOutputArg,
    },
    /// The plan a dry run (or an init the discrepancy check refused) kept:
    /// per object type, what it adds, changes and deletes, and the first
    /// keys it deletes.
    Plan {
        /// The job's number.
        id: i64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Apply exactly the plan a dry run (or an init the discrepancy check
    /// refused) kept — refused as stale when the element or the database
    /// changed since: run the preview again then.
    Apply {
        /// The job's number.
        id: i64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Stop a job: a queued one at once, a running one at its next safe point.
    Stop {
        /// The job's number.
        id: i64,
        #[command(flatten)]
        output: OutputArg,
    },
}

fn parse_state(s: &str) -> Result<JobState, String> {
    s.parse()
}

/// The query of `job list`.
pub(super) fn list_query(
    element: Option<&str>,
    state: Option<JobState>,
    page: &PageArgs,
) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(e) = element {
        q.push(("element", e.to_string()));
    }
    if let Some(s) = state {
        q.push(("state", s.to_string()));
    }
    q.extend(page.query());
    q
}

pub(super) async fn run(client: &ApiClient, cmd: JobCmd) -> Result<(), Exit> {
    match cmd {
        JobCmd::List {
            element,
            state,
            page,
            output,
        } => {
            let query = list_query(element.as_deref(), state, &page);
            let v = client.get_value(&["jobs"], &query).await?;
            print_listing(client, v, output.output, list_table)
        }
        JobCmd::Show {
            id,
            changes,
            output,
        } => {
            let id = id.to_string();
            let v = client.get_value(&["jobs", &id], &[]).await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => {
                    let job: JobView = client.typed(v)?;
                    let changes = if changes > 0 {
                        let q = [("limit", changes.min(1000).to_string())];
                        Some(
                            client
                                .get::<ChangePage>(&["jobs", &id, "changes"], &q)
                                .await?,
                        )
                    } else {
                        None
                    };
                    print(&show_text(&job, changes.as_ref()))
                }
            }
        }
        JobCmd::Changes { id, page, output } => {
            let id = id.to_string();
            let v = client
                .get_value(&["jobs", &id, "changes"], &page.query())
                .await?;
            print_listing(client, v, output.output, |page: &ChangePage| {
                render::listing(
                    changes_table(page),
                    render::page_footer(
                        "change",
                        page.items.len(),
                        page.offset,
                        page.limit,
                        page.total,
                    ),
                )
            })
        }
        JobCmd::Plan { id, output } => {
            let id = id.to_string();
            let v = client.get_value(&["jobs", &id, "plan"], &[]).await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => print(&plan_text(&client.typed::<PlanView>(v)?)),
            }
        }
        JobCmd::Apply { id, output } => {
            let id = id.to_string();
            let v = client
                .call(Method::POST, &["jobs", &id, "apply"], &[], None::<&()>)
                .await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => print(&summary_line(&client.typed(v)?)),
            }
        }
        JobCmd::Stop { id, output } => {
            let id = id.to_string();
            let v = client
                .call(Method::POST, &["jobs", &id, "stop"], &[], None::<&()>)
                .await?;
            match output.output {
                Output::Json => print_json(&v),
                Output::Table => print(&status_line(&client.typed(v)?)),
            }
        }
    }
}

fn progress_cell(job: &JobView) -> String {
    let (done, expected) = progress(job);
    if expected == 0 && done == 0 {
        "-".into()
    } else {
        format!("{}/{}", count(done), count(expected))
    }
}

pub(super) fn list_table(page: &JobPage) -> render::Listing {
    let mut t = render::table(&[
        "ID", "ELEMENT", "TYPE", "TRIGGER", "BY", "STATE", "PROGRESS", "CREATED", "FINISHED",
    ]);
    for j in &page.items {
        let mut kind = if j.requested == j.sync_type {
            j.sync_type.to_string()
        } else {
            format!("{} (asked {})", j.sync_type, j.requested)
        };
        if j.dry_run {
            kind.push_str(if j.applied_at.is_some() {
                ", dry run, applied"
            } else {
                ", dry run"
            });
        }
        t.add_row([
            j.id.to_string(),
            j.element.clone(),
            kind,
            j.trigger.to_string(),
            j.requested_by.clone(),
            j.state.to_string(),
            progress_cell(j),
            render::time(&j.created_at),
            opt_time(j.finished_at.as_deref()),
        ]);
    }
    render::listing(
        t,
        render::page_footer("job", page.items.len(), page.offset, page.limit, page.total),
    )
}

pub(super) fn changes_table(page: &ChangePage) -> comfy_table::Table {
    let mut t = render::table(&["AT", "OP", "TYPE", "KEY", "BY", "APPLIED"]);
    let planned = page.items.iter().any(|c| !c.fields.is_empty());
    if planned {
        t.set_header(["AT", "OP", "TYPE", "KEY", "BY", "APPLIED", "FIELDS"]);
    }
    for c in &page.items {
        let mut row = vec![
            render::time(&c.at),
            c.op.clone(),
            c.object_type.clone(),
            c.key.clone(),
            opt(c.by_login.as_deref()),
            if c.applied { "yes" } else { "no" }.into(),
        ];
        if planned {
            row.push(
                c.fields
                    .iter()
                    .map(|f| match (&f.before, &f.after) {
                        (None, Some(a)) if c.op == "add" => format!("{}={a}", f.field),
                        (b, a) => format!(
                            "{}: {} -> {}",
                            f.field,
                            b.as_deref().unwrap_or("(none)"),
                            a.as_deref().unwrap_or("(none)")
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        t.add_row(row);
    }
    t
}

pub(super) fn show_text(job: &JobView, changes: Option<&ChangePage>) -> String {
    let c = &job.counts;
    let mut rows = vec![
        ("job", job.id.to_string()),
        ("element", job.element.clone()),
        ("requested", job.requested.to_string()),
        ("type", job.sync_type.to_string()),
    ];
    if let Some(r) = &job.reason {
        rows.push(("reason", r.clone()));
    }
    rows.extend([
        ("trigger", job.trigger.to_string()),
        ("requested by", job.requested_by.clone()),
        ("state", job.state.to_string()),
    ]);
    if let Some(e) = &job.error {
        rows.push(("error", e.clone()));
    }
    if job.dry_run {
        rows.push(("dry run", "yes: a preview, its plan kept".into()));
    }
    if let Some(at) = &job.applied_at {
        rows.push((
            "plan applied",
            format!(
                "{} by {}",
                render::time(at),
                job.applied_by.as_deref().unwrap_or("?")
            ),
        ));
    }
    rows.extend([
        ("progress", progress_cell(job)),
        (
            "counts",
            format!(
                "added {}, changed {}, deleted {}, unchanged {}, skipped {}",
                count(c.added),
                count(c.changed),
                count(c.deleted),
                count(c.unchanged),
                count(c.skipped)
            ),
        ),
    ]);
    if c.would_add + c.would_change + c.would_delete > 0 {
        rows.push((
            "not applied",
            format!(
                "would add {}, change {}, delete {}",
                count(c.would_add),
                count(c.would_change),
                count(c.would_delete)
            ),
        ));
    }
    rows.extend([
        ("created", render::time(&job.created_at)),
        ("started", opt_time(job.started_at.as_deref())),
        ("finished", opt_time(job.finished_at.as_deref())),
        ("node", opt(job.node.as_deref())),
    ]);
    let mut out = render::fields(&rows);
    if !job.progress.is_empty() {
        let mut t = render::table(&["OBJECT TYPE", "DONE", "EXPECTED"]);
        for (ty, p) in &job.progress {
            t.add_row([ty.clone(), count(p.done), count(p.expected)]);
        }
        out.push('\n');
        out.push_str(&t.to_string());
    }
    // What the job logged: the rows it skipped and why, why it became an
    // init, why it failed. Only the view of one job carries it.
    if let Some(log) = job.log.as_deref().filter(|l| !l.is_empty()) {
        let mut t = render::table(&["LOG"]);
        for line in log {
            t.add_row([line.clone()]);
        }
        out.push('\n');
        out.push_str(&t.to_string());
    }
    if let Some(page) = changes {
        out.push('\n');
        if page.items.is_empty() {
            out.push_str("no changes");
        } else {
            out.push_str(&changes_table(page).to_string());
            let shown = page.items.len() as u64;
            match page.total {
                Some(total) if total > shown => out.push_str(&format!(
                    "\n{shown} of {} changes; all of them: ucsync job changes {} --limit 1000",
                    count(total),
                    job.id
                )),
                _ => out.push_str(&format!(
                    "\n{shown} change{}",
                    if shown == 1 { "" } else { "s" }
                )),
            }
        }
    }
    out
}
