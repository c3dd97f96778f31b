//! Jobs: the Scheduler's views (pending, running, completed) with filters
//! and paging, one job's page (its types and why they differ, timing,
//! counts, log, changes, and a kept plan to apply), and stopping a job.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use ucsync_core::{JobState, SyncType, Trigger};
use ucsync_store::JobId;

use super::rows::JobRow;
use super::session::local_path;
use super::sync::{group_of, selecting};
use super::{Action, Failure, Frame, Operator, PageResult, fail, render, words};
use crate::model::{ChangeView, JobFilter, JobPhase, JobView, PageQuery, Paging, PlanView};
use crate::routes::jobs;
use crate::{ApiError, ApiState};

/// The query's pairs, those with a value.
fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, Failure> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| Failure::bad_request(format!("the address's query cannot be read: {e}")))?;
    Ok(pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect())
}

/// Parses the pairs as the API parses its query (`ApiQuery`): an empty
/// field of a form (`type=`, "any") is no filter.
fn parse<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, Failure> {
    let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
    serde_urlencoded::from_str(&q)
        .map_err(|e| Failure::bad_request(format!("the address's query is not valid: {e}")))
}

/// A comma-separated list of job ids.
fn ids(pairs: &[(String, String)], name: &str) -> Vec<i64> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(',').filter_map(|i| i.trim().parse().ok()))
        .collect()
}

/// A link of the list with `filter` and `page`.
fn href(filter: &JobFilter, page: Paging) -> String {
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(v) = filter.view {
        q.push(("view", v.as_str().into()));
    }
    if let Some(e) = &filter.element {
        q.push(("element", e.clone()));
    }
    if let Some(t) = filter.sync_type {
        q.push(("type", t.as_str().into()));
    }
    if let Some(s) = filter.state {
        q.push(("state", s.as_str().into()));
    }
    if let Some(t) = filter.trigger {
        q.push(("trigger", t.as_str().into()));
    }
    if page.offset > 0 {
        q.push(("offset", page.offset.to_string()));
    }
    if page.limit != crate::model::DEFAULT_LIMIT {
        q.push(("limit", page.limit.to_string()));
    }
    let q = serde_urlencoded::to_string(&q).unwrap_or_default();
    if q.is_empty() {
        "/jobs".into()
    } else {
        format!("/jobs?{q}")
    }
}

/// A link or an option of a filter.
pub(crate) struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub current: bool,
}

fn choices<T: Copy + PartialEq>(
    all: &[T],
    current: Option<T>,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<Choice> {
    all.iter()
        .map(|&t| Choice {
            value: value(t),
            label: label(t),
            current: current == Some(t),
        })
        .collect()
}

fn view_label(v: JobPhase) -> &'static str {
    match v {
        JobPhase::Pending => "Pending",
        JobPhase::Running => "Running",
        JobPhase::Completed => "Completed",
    }
}

/// A tab of the views.
struct Tab {
    href: String,
    label: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    frame: Frame,
    tabs: Vec<Tab>,
    view: &'static str,
    element: String,
    types: Vec<Choice>,
    states: Vec<Choice>,
    triggers: Vec<Choice>,
    caption: String,
    jobs: Vec<JobRow>,
    previous: Option<String>,
    next: Option<String>,
    /// Jobs an action on another page just queued, and plans it applied.
    queued: Vec<i64>,
    applied: Vec<i64>,
}

async fn jobs_page(
    s: &ApiState,
    operator: &Operator,
    raw: Option<&str>,
) -> Result<JobsPage, Failure> {
    let pairs = pairs(raw)?;
    let filter: JobFilter = parse(&pairs)?;
    let page = parse::<PageQuery>(&pairs)?
        .parse()
        .map_err(|e| Failure::bad_request(e.message))?;
    // One more than the page: whether there is a next one, without counting.
    let ask = Paging {
        offset: page.offset,
        limit: page.limit + 1,
    };
    let mut items = jobs::job_page(s, &filter, ask).await?.items;
    let more = items.len() as u64 > page.limit;
    items.truncate(usize::try_from(page.limit).unwrap_or(usize::MAX));
    let mut tabs = vec![Tab {
        href: href(
            &JobFilter {
                view: None,
                ..filter.clone()
            },
            Paging { offset: 0, ..page },
        ),
        label: "All",
        current: filter.view.is_none(),
    }];
    tabs.extend(JobPhase::ALL.iter().map(|&v| Tab {
        href: href(
            &JobFilter {
                view: Some(v),
                ..filter.clone()
            },
            Paging { offset: 0, ..page },
        ),
        label: view_label(v),
        current: filter.view == Some(v),
    }));
    let view = filter.view.map_or("All", view_label);
    let states: &[JobState] = filter.view.map_or(JobState::ALL, JobPhase::states);
    let first = page.offset + 1;
    let caption = if items.is_empty() {
        format!("{view} jobs: none here")
    } else {
        format!(
            "{view} jobs, newest first: {first} to {}",
            page.offset + items.len() as u64
        )
    };
    Ok(JobsPage {
        frame: Frame::new(operator, "Jobs", "Jobs"),
        tabs,
        view: filter.view.map_or("", JobPhase::as_str),
        element: filter.element.clone().unwrap_or_default(),
        types: choices(
            SyncType::ALL,
            filter.sync_type,
            SyncType::as_str,
            words::sync_type,
        ),
        states: choices(states, filter.state, JobState::as_str, words::job_state),
        triggers: choices(
            Trigger::ALL,
            filter.trigger,
            Trigger::as_str,
            words::trigger,
        ),
        caption,
        jobs: items.iter().map(JobRow::from).collect(),
        previous: (page.offset > 0).then(|| {
            href(
                &filter,
                Paging {
                    offset: page.offset.saturating_sub(page.limit),
                    ..page
                },
            )
        }),
        next: more.then(|| {
            href(
                &filter,
                Paging {
                    offset: page.offset + page.limit,
                    ..page
                },
            )
        }),
        queued: ids(&pairs, "queued"),
        applied: ids(&pairs, "applied"),
    })
}

/// `GET /jobs`: `view` (pending, running, completed), `element`, `type`,
/// `state`, `trigger`, `offset`, `limit` — the API's filters.
pub(crate) async fn list(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    operator: Operator,
) -> PageResult {
    let page = jobs_page(&s, &operator, raw.as_deref())
        .await
        .map_err(fail(&operator))?;
    Ok(render(&page))
}

/// A change of the job as the page shows it.
struct ChangeRow {
    object_type: String,
    key: String,
    op: &'static str,
    by_login: String,
    at: String,
    applied: bool,
    fields: Vec<(String, String, String)>,
}

impl From<ChangeView> for ChangeRow {
    fn from(c: ChangeView) -> ChangeRow {
        ChangeRow {
            op: match c.op.as_str() {
                "add" => "Added",
                "delete" => "Deleted",
                _ => "Changed",
            },
            object_type: c.object_type,
            key: c.key,
            by_login: c.by_login.unwrap_or_else(|| "—".into()),
            at: words::time(c.at_element.as_deref().unwrap_or(&c.at)),
            applied: c.applied,
            fields: c
                .fields
                .into_iter()
                .map(|f| {
                    (
                        f.field,
                        f.before.unwrap_or_default(),
                        f.after.unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

/// A kept plan's changes of one object type.
struct PlanRow {
    name: String,
    add: u64,
    change: u64,
    delete: u64,
    first_deleted: String,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    frame: Frame,
    job: JobRow,
    requested: &'static str,
    reason: Option<String>,
    dry_run: bool,
    node: String,
    created: String,
    started: String,
    finished: String,
    duration: String,
    counts: Vec<(&'static str, u64)>,
    applied: Option<(String, String)>,
    log: Vec<String>,
    changes: Vec<ChangeRow>,
    changes_caption: String,
    previous: Option<String>,
    next: Option<String>,
    plan: Vec<PlanRow>,
    has_plan: bool,
    /// Why the last action was refused, and where to preview again.
    error: Option<String>,
    again: Option<String>,
}

fn duration(v: &JobView) -> String {
    let Some(start) = v.started_at.as_deref() else {
        return "—".into();
    };
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let end = v
        .finished_at
        .as_deref()
        .map_or_else(|| Some(chrono::Utc::now().fixed_offset()), parse);
    match (parse(start), end) {
        (Some(a), Some(b)) => {
            let secs = (b - a).num_milliseconds().max(0) as f64 / 1000.0;
            if v.finished_at.is_some() {
                format!("{secs:.1} s")
            } else {
                format!("{secs:.0} s so far")
            }
        }
        _ => "—".into(),
    }
}

/// Changes shown per page of a job.
const CHANGES_SHOWN: u64 = 50;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChangesQuery {
    offset: Option<u64>,
}

async fn job_page(
    s: &ApiState,
    operator: &Operator,
    id: JobId,
    offset: u64,
) -> Result<JobPage, ApiError> {
    let v = jobs::job_with_log(s, id).await?;
    let page = PageQuery {
        offset: Some(offset),
        limit: Some(CHANGES_SHOWN),
    }
    .parse()
    .map_err(ApiError::query)?;
    let changes = jobs::changes(s, id, page).await?;
    let total = changes.total.unwrap_or(0);
    let shown = changes.items.len() as u64;
    let plan: Option<PlanView> = if v.state.is_finished() {
        jobs::plan(s, id).await.ok()
    } else {
        None
    };
    let c = &v.counts;
    let counts = [
        ("Added", c.added),
        ("Changed", c.changed),
        ("Deleted", c.deleted),
        ("Unchanged", c.unchanged),
        ("Skipped", c.skipped),
        ("Would add", c.would_add),
        ("Would change", c.would_change),
        ("Would delete", c.would_delete),
    ]
    .into_iter()
    .filter(|&(name, n)| n > 0 || !name.starts_with("Would"))
    .collect();
    let link = |offset: u64| format!("/jobs/{}?offset={offset}#changes-h", v.id);
    Ok(JobPage {
        frame: Frame::new(operator, "Jobs", format!("Job {} on {}", v.id, v.element)),
        job: JobRow::from(&v),
        requested: words::sync_type(v.requested),
        reason: v.reason.clone(),
        dry_run: v.dry_run,
        node: v.node.clone().unwrap_or_else(|| "—".into()),
        created: words::time(&v.created_at),
        started: v
            .started_at
            .as_deref()
            .map_or_else(|| "—".into(), words::time),
        finished: v
            .finished_at
            .as_deref()
            .map_or_else(|| "—".into(), words::time),
        duration: duration(&v),
        counts,
        applied: v
            .applied_at
            .as_deref()
            .map(|at| (words::time(at), v.applied_by.clone().unwrap_or_default())),
        log: v.log.clone().unwrap_or_default(),
        changes_caption: if total == 0 {
            "No change".into()
        } else {
            format!(
                "Changes {} to {} of {total}",
                offset.saturating_add(1).min(total),
                offset + shown
            )
        },
        changes: changes.items.into_iter().map(ChangeRow::from).collect(),
        previous: (offset > 0).then(|| link(offset.saturating_sub(CHANGES_SHOWN))),
        next: (offset + shown < total).then(|| link(offset + CHANGES_SHOWN)),
        has_plan: plan.is_some(),
        plan: plan
            .map(|p| {
                p.types
                    .into_iter()
                    .map(|(name, t)| PlanRow {
                        name,
                        add: t.add,
                        change: t.change,
                        delete: t.delete,
                        first_deleted: t.first_deleted.join(", "),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        error: None,
        again: None,
    })
}

/// `GET /jobs/{id}`.
pub(crate) async fn show(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<ChangesQuery>,
    operator: Operator,
) -> PageResult {
    let page = job_page(&s, &operator, JobId(id), q.offset.unwrap_or(0))
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(render(&page))
}

/// `POST /jobs/{id}/apply`: applies the plan the job keeps. A refusal
/// (a stale plan, one applied already) shows on the job's page, with a
/// link to preview the element again.
pub(crate) async fn apply(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Action { operator, .. }: Action<Back>,
) -> PageResult {
    let id = JobId(id);
    let e = match jobs::apply(&s, &operator.caller(), id).await {
        Ok(_) => return Ok(Redirect::to(&format!("/jobs/{}", id.0)).into_response()),
        Err(e) => e,
    };
    let status = e.status();
    let mut page = job_page(&s, &operator, id, 0)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    if let Ok(Some(el)) = s.store().element(&page.job.element).await {
        page.again = Some(selecting(
            group_of(el.kind).slug,
            std::slice::from_ref(&page.job.element),
        ));
    }
    page.error = Some(e.message);
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct Back {
    /// The page to go back to.
    back: Option<String>,
}

/// `POST /jobs/{id}/stop`: a queued job stops at once, a running one at its
/// next safe point.
pub(crate) async fn stop(
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Action { operator, form }: Action<Back>,
) -> PageResult {
    jobs::stop(&s, &operator.caller(), JobId(id))
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    let back = form.back.as_deref().and_then(local_path).unwrap_or("/");
    Ok(Redirect::to(back).into_response())
}
