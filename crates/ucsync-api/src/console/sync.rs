//! Synchronization › Communication System / IP Office / Messaging: System
//! Manager's table of elements with their sync status, and its actions on
//! the selected ones. Initialize and incremental queue jobs as
//! `POST /api/v1/sync` does; force initialize first runs a preview (a dry
//! run) of each, shows what it would delete, and applies exactly those
//! plans (as `POST /api/v1/jobs/{id}/apply` does) once the admin confirms.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use ucsync_core::{ElementKind, SyncType};
use ucsync_store::JobId;

use super::session::url_escape;
use super::{Action, Failure, Frame, Operator, PageResult, fail, render, words};
use crate::model::{ElementView, JobView, MAX_OFFSET, Paging, SyncBody};
use crate::routes::{elements::element_page, jobs};
use crate::{ApiError, ApiState};

/// Previews confirmed at once at most: more elements than any page shows.
const MAX_PREVIEWS: usize = 1000;

/// One of the three pages: its path segment, its title, the kinds it shows.
pub(crate) struct Group {
    pub slug: &'static str,
    pub title: &'static str,
    kinds: &'static [ElementKind],
}

const GROUPS: [Group; 3] = [
    Group {
        slug: "cm",
        title: "Communication System",
        kinds: &[ElementKind::Cm],
    },
    Group {
        slug: "ip-office",
        title: "IP Office",
        kinds: &[ElementKind::IpOffice],
    },
    Group {
        slug: "messaging",
        title: "Messaging",
        kinds: &[
            ElementKind::Messaging,
            ElementKind::CmMessaging,
            ElementKind::ModularMessaging,
        ],
    },
];

fn group(slug: &str) -> Result<&'static Group, Failure> {
    GROUPS.iter().find(|g| g.slug == slug).ok_or_else(|| Failure {
        status: StatusCode::NOT_FOUND,
        message: format!(
            "there is no synchronization page '{slug}': the pages are cm, ip-office and messaging"
        ),
    })
}

/// The page of elements of `kind`.
pub(crate) fn group_of(kind: ElementKind) -> &'static Group {
    GROUPS
        .iter()
        .find(|g| g.kinds.contains(&kind))
        .unwrap_or(&GROUPS[0])
}

/// The link to a group's page with `names` selected: where "preview again"
/// goes.
pub(crate) fn selecting(slug: &str, names: &[String]) -> String {
    format!("/sync/{slug}?select={}", url_escape(&names.join(",")))
}

/// An element as the table shows it.
struct SyncRow {
    name: String,
    kind: &'static str,
    last_sync: String,
    last_type: &'static str,
    state: &'static str,
    state_class: &'static str,
    reason: String,
    version: String,
    notify: &'static str,
    objects: u64,
    checked: bool,
}

impl SyncRow {
    fn new(e: &ElementView, selected: &[String]) -> SyncRow {
        SyncRow {
            name: e.name.clone(),
            kind: words::kind(e.kind),
            last_sync: e
                .sync
                .last_sync_at
                .as_deref()
                .map_or_else(|| "Never".to_string(), words::time),
            last_type: e
                .sync
                .last_job
                .as_ref()
                .map_or("—", |j| words::sync_type(j.sync_type)),
            state: words::element_state(e.state),
            state_class: words::element_class(e.state),
            reason: e.state_reason.clone().unwrap_or_default(),
            version: e.sync.version.clone().unwrap_or_else(|| "—".into()),
            notify: match (e.kind, e.settings.notify_sync) {
                (ElementKind::Cm, true) => "On",
                (ElementKind::Cm, false) => "Off",
                _ => "—",
            },
            objects: e.objects,
            checked: selected.contains(&e.name),
        }
    }
}

/// A tab of the three pages.
struct Tab {
    href: String,
    title: &'static str,
    current: bool,
}

fn tabs(current: &str) -> Vec<Tab> {
    GROUPS
        .iter()
        .map(|g| Tab {
            href: format!("/sync/{}", g.slug),
            title: g.title,
            current: g.slug == current,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "sync.html")]
struct SyncPage {
    frame: Frame,
    tabs: Vec<Tab>,
    slug: &'static str,
    many_kinds: bool,
    rows: Vec<SyncRow>,
    /// Why the last action was refused.
    error: Option<String>,
}

async fn sync_page(
    s: &ApiState,
    operator: &Operator,
    g: &'static Group,
    selected: &[String],
    error: Option<String>,
) -> Result<SyncPage, ApiError> {
    let all = Paging {
        offset: 0,
        limit: MAX_OFFSET,
    };
    let rows = element_page(s, all)
        .await?
        .items
        .iter()
        .filter(|e| g.kinds.contains(&e.kind))
        .map(|e| SyncRow::new(e, selected))
        .collect();
    Ok(SyncPage {
        frame: Frame::new(operator, "Synchronization", g.title),
        tabs: tabs(g.slug),
        slug: g.slug,
        many_kinds: g.kinds.len() > 1,
        rows,
        error,
    })
}

/// A comma-separated list in a query: names or ids.
fn list(q: Option<&str>) -> Vec<String> {
    q.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct Selection {
    /// Elements checked already, comma-separated.
    select: Option<String>,
}

/// `GET /sync/{group}`.
pub(crate) async fn page(
    State(s): State<ApiState>,
    Path(slug): Path<String>,
    Query(q): Query<Selection>,
    operator: Operator,
) -> PageResult {
    let g = group(&slug).map_err(fail(&operator))?;
    let selected = list(q.select.as_deref());
    let page = sync_page(&s, &operator, g, &selected, None)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(render(&page))
}

/// The values of a form's fields named `name`, in order.
fn values(form: &[(String, String)], name: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// `POST /sync/{group}`: `elements` (each checked one) and `action`
/// (`init`, `incremental` or `force-init`).
pub(crate) async fn act(
    State(s): State<ApiState>,
    Path(slug): Path<String>,
    Action { operator, form }: Action<Vec<(String, String)>>,
) -> PageResult {
    let g = group(&slug).map_err(fail(&operator))?;
    let elements = values(&form, "elements");
    let again = |status: StatusCode, error: String| {
        let s = s.clone();
        let operator = operator.clone();
        let elements = elements.clone();
        async move {
            match sync_page(&s, &operator, g, &elements, Some(error)).await {
                Ok(page) => Ok((status, render(&page)).into_response()),
                Err(e) => Err(fail(&operator)(e.into())),
            }
        }
    };
    let action = values(&form, "action").pop().unwrap_or_default();
    let Ok(sync_type) = action.parse::<SyncType>() else {
        return Err(fail(&operator)(Failure::bad_request(format!(
            "unknown action '{action}': init, incremental or force-init"
        ))));
    };
    if elements.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "nothing is selected: select at least one element".into(),
        )
        .await;
    }
    let body = SyncBody {
        sync_type,
        elements: Some(elements.clone()),
        all: None,
        dry_run: sync_type == SyncType::ForceInit,
    };
    let r = match jobs::request_sync(&s, &operator.caller(), &body).await {
        Ok(r) => r,
        Err(e) => return again(e.status(), e.message).await,
    };
    let ids = r
        .jobs
        .iter()
        .map(|j| j.job.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let to = if body.dry_run {
        format!("/sync/force-init?jobs={ids}")
    } else {
        format!("/jobs?queued={ids}")
    };
    Ok(Redirect::to(&to).into_response())
}

/// One plan's changes of one object type.
struct TypeRow {
    name: String,
    add: u64,
    change: u64,
    delete: u64,
    first_deleted: Vec<String>,
}

/// The preview of one element's force initialize.
struct Preview {
    id: i64,
    element: String,
    slug: &'static str,
    state: &'static str,
    state_class: &'static str,
    finished: bool,
    /// Why there is nothing to confirm for it.
    problem: Option<String>,
    types: Vec<TypeRow>,
    deletes: u64,
    /// After a confirmation: applied, or why not.
    outcome: Option<Result<(), String>>,
}

impl Preview {
    fn ready(&self) -> bool {
        self.finished && self.problem.is_none()
    }
}

#[derive(Template)]
#[template(path = "sync_force.html")]
struct ForcePage {
    frame: Frame,
    previews: Vec<Preview>,
    /// The jobs, comma-separated, for the refresh link.
    ids: String,
    running: bool,
    ready: bool,
    /// Where to preview the refused ones again.
    again: Option<String>,
}

async fn preview(s: &ApiState, id: JobId) -> Result<Preview, ApiError> {
    let j = JobView::from(jobs::job(s, id).await?);
    let kind = s.store().element(&j.element).await?.map(|e| e.kind);
    let mut p = Preview {
        id: j.id,
        element: j.element.clone(),
        slug: kind.map_or("cm", |k| group_of(k).slug),
        state: words::job_state(j.state),
        state_class: words::job_class(j.state),
        finished: j.state.is_finished(),
        problem: None,
        types: Vec::new(),
        deletes: 0,
        outcome: None,
    };
    if !j.dry_run || j.requested != SyncType::ForceInit {
        p.problem = Some(format!(
            "job {} is not a preview of a force initialize",
            j.id
        ));
    } else if let Some(e) = &j.error {
        p.problem = Some(e.clone());
    } else if p.finished {
        match jobs::plan(s, id).await {
            Ok(plan) => {
                p.types = plan
                    .types
                    .into_iter()
                    .map(|(name, t)| TypeRow {
                        name,
                        add: t.add,
                        change: t.change,
                        delete: t.delete,
                        first_deleted: t.first_deleted,
                    })
                    .collect();
                p.deletes = p.types.iter().map(|t| t.delete).sum();
            }
            Err(e) => p.problem = Some(e.message),
        }
    }
    Ok(p)
}

fn job_ids(raw: &[String]) -> Result<Vec<JobId>, Failure> {
    if raw.is_empty() || raw.len() > MAX_PREVIEWS {
        return Err(Failure::bad_request(format!(
            "name from 1 to {MAX_PREVIEWS} preview jobs"
        )));
    }
    raw.iter()
        .map(|r| {
            r.parse::<i64>()
                .map(JobId)
                .map_err(|_| Failure::bad_request(format!("'{r}' is not a job's id")))
        })
        .collect()
}

async fn force_page(
    s: &ApiState,
    operator: &Operator,
    ids: &[JobId],
) -> Result<ForcePage, ApiError> {
    let mut previews = Vec::with_capacity(ids.len());
    for &id in ids {
        previews.push(preview(s, id).await?);
    }
    Ok(ForcePage {
        frame: Frame::new(operator, "Synchronization", "Force initialize"),
        ids: ids
            .iter()
            .map(|i| i.0.to_string())
            .collect::<Vec<_>>()
            .join(","),
        running: previews.iter().any(|p| !p.finished),
        ready: previews.iter().all(Preview::ready),
        previews,
        again: None,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct Previews {
    /// The preview jobs, comma-separated.
    jobs: Option<String>,
}

/// `GET /sync/force-init?jobs=…`: what each preview would delete, once
/// they have finished, and the confirmation.
pub(crate) async fn confirmation(
    State(s): State<ApiState>,
    Query(q): Query<Previews>,
    operator: Operator,
) -> PageResult {
    let ids = job_ids(&list(q.jobs.as_deref())).map_err(fail(&operator))?;
    let page = force_page(&s, &operator, &ids)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(render(&page))
}

/// `POST /sync/force-init`: applies exactly the plans of the previews
/// (`jobs`, one field each). Those refused — stale, applied already — are
/// shown with the reason and a link to preview them again.
pub(crate) async fn confirm(
    State(s): State<ApiState>,
    Action { operator, form }: Action<Vec<(String, String)>>,
) -> PageResult {
    let ids = job_ids(&values(&form, "jobs")).map_err(fail(&operator))?;
    let caller = operator.caller();
    let mut outcomes = Vec::with_capacity(ids.len());
    let mut status = None;
    for &id in &ids {
        let r = jobs::apply(&s, &caller, id).await;
        if let Err(e) = &r {
            status.get_or_insert(e.status());
        }
        outcomes.push(r.map(|_| ()).map_err(|e| e.message));
    }
    let Some(status) = status else {
        let ids = ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>();
        return Ok(Redirect::to(&format!("/jobs?applied={}", ids.join(","))).into_response());
    };
    let mut page = force_page(&s, &operator, &ids)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    let mut refused = Vec::new();
    for (p, outcome) in page.previews.iter_mut().zip(outcomes) {
        if outcome.is_err() {
            refused.push((p.slug, p.element.clone()));
        }
        p.outcome = Some(outcome);
    }
    page.ready = false;
    if let Some(&(slug, _)) = refused.first() {
        let names: Vec<String> = refused.into_iter().map(|(_, n)| n).collect();
        page.again = Some(selecting(slug, &names));
    }
    Ok((status, render(&page)).into_response())
}
