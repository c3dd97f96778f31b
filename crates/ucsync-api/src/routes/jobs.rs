//! `/sync` and `/jobs`: ask for syncs, follow and stop jobs, and read what
//! they changed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ucsync_core::{ElementName, Trigger};
use ucsync_store::{JobId, NewJob};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::model::{
    ChangePage, ChangeView, ErrorBody, ErrorCode, JobFilter, JobPage, JobView, PageQuery, Paging,
    PlanView, RequestedJob, SyncBody, SyncResponse, SyncTargets,
};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(sync))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(stop_job))
        .routes(routes!(job_changes))
        .routes(routes!(job_plan))
        .routes(routes!(apply_plan))
}

/// Asks for a sync of some elements or all. A request joins a queued or
/// running job of the same or greater strength on an element (`joined`);
/// a stronger one is queued after it. Nothing is queued when an element is
/// unknown. With `"dry_run": true` each job is a preview: it reads and
/// diffs as the sync would, keeps its plan and applies nothing (see
/// `POST /jobs/{id}/apply`); a preview joins only a preview.
#[utoipa::path(post, path = "/sync", tag = "jobs", request_body = SyncBody,
    responses(
        (status = 202, description = "The jobs that will do it", body = SyncResponse),
        (status = 404, description = "An element is unknown (`no-element`); nothing was queued", body = ErrorBody),
    ))]
async fn sync(
    State(s): State<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<SyncBody>,
) -> Result<(StatusCode, Json<SyncResponse>), ApiError> {
    let r = request_sync(&s, &caller, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(r)))
}

/// Queues the jobs of a sync request, as `POST /sync` says.
pub(crate) async fn request_sync(
    s: &ApiState,
    caller: &Caller,
    body: &SyncBody,
) -> Result<SyncResponse, ApiError> {
    let store = s.store().as_ref();
    let names: Vec<ElementName> = match body.targets()? {
        SyncTargets::All => store
            .elements()
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect(),
        SyncTargets::Elements(names) => {
            for n in &names {
                super::element(store, n.as_str()).await?;
            }
            names
        }
    };
    let mut jobs = Vec::with_capacity(names.len());
    for name in &names {
        let r = s
            .runner
            .request_job(NewJob {
                element: name.clone(),
                requested: body.sync_type,
                trigger: Trigger::OnDemand,
                requested_by: caller.name.clone(),
                dry_run: body.dry_run,
            })
            .await?;
        jobs.push(RequestedJob {
            joined: r.joined,
            job: r.job.into(),
        });
    }
    tracing::info!(sync_type = %body.sync_type, dry_run = body.dry_run, elements = names.len(), by = %caller.name, "sync requested");
    Ok(SyncResponse { jobs })
}

/// Jobs, newest first, filtered by element, state (or the Scheduler's
/// view: pending, running, completed), type and trigger.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobFilter, PageQuery),
    responses((status = 200, description = "A page of jobs", body = JobPage)))]
async fn list_jobs(
    State(s): State<ApiState>,
    ApiQuery(filter): ApiQuery<JobFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<JobPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    job_page(&s, &filter, page).await.map(Json)
}

/// A page of the jobs `filter` selects, read as a page from the store.
pub(crate) async fn job_page(
    s: &ApiState,
    filter: &JobFilter,
    page: Paging,
) -> Result<JobPage, ApiError> {
    let jobs = match filter.query() {
        Some(q) => s.store().find_jobs(&q, page.offset, page.limit).await?,
        None => Vec::new(),
    };
    Ok(JobPage {
        items: jobs.into_iter().map(JobView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: None,
    })
}

pub(crate) async fn job(s: &ApiState, id: JobId) -> Result<ucsync_store::Job, ApiError> {
    s.store()
        .job(id)
        .await?
        .ok_or_else(|| ApiError::from(ucsync_store::StoreError::NoJob(id)))
}

/// One job, with what it logged (`log`).
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job, with its log", body = JobView),
        (status = 404, description = "No such job (`no-job`)", body = ErrorBody),
    ))]
async fn get_job(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<JobView>, ApiError> {
    job_with_log(&s, id).await.map(Json)
}

/// One job with its log, as `GET /jobs/{id}` says.
pub(crate) async fn job_with_log(s: &ApiState, id: JobId) -> Result<JobView, ApiError> {
    let j = job(s, id).await?;
    let log = s.store().job_log_lines(id).await?;
    Ok(JobView::with_log(j, log))
}

/// Stops a job: a queued one at once, a running one at its next safe point
/// (it is `stopping` until then; nothing it had not committed is applied).
/// A job that has already finished is not changed: 409 `job-finished`, the
/// message naming how it ended.
#[utoipa::path(post, path = "/jobs/{id}/stop", tag = "jobs",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job as it is now: `stopped`, or `stopping` until its next safe point", body = JobView),
        (status = 404, description = "No such job (`no-job`)", body = ErrorBody),
        (status = 409, description = "The job has already finished (`job-finished`); the message says how", body = ErrorBody),
    ))]
async fn stop_job(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<JobView>, ApiError> {
    stop(&s, &caller, id).await.map(Json)
}

/// Stops a job, as `POST /jobs/{id}/stop` says.
pub(crate) async fn stop(s: &ApiState, caller: &Caller, id: JobId) -> Result<JobView, ApiError> {
    let before = job(s, id).await?;
    if before.state.is_finished() {
        return Err(ApiError::new(
            ErrorCode::JobFinished,
            format!(
                "job {id} has already finished ({}): there is nothing to stop",
                before.state
            ),
        ));
    }
    match s.runner.stop(id).await? {
        Some(job) => {
            tracing::info!(job = id.0, by = %caller.name, state = %job.state, "job stop asked");
            Ok(job.into())
        }
        None => Err(ucsync_store::StoreError::NoJob(id).into()),
    }
}

/// The object changes a job applied — or, for a dry run or an init refused
/// by the discrepancy check, those it would apply (`applied: false`, with
/// the fields of each add and change, field by field), until its plan is
/// applied.
#[utoipa::path(get, path = "/jobs/{id}/changes", tag = "jobs",
    params(("id" = i64, Path, description = "The job's id"), PageQuery),
    responses(
        (status = 200, description = "A page of changes", body = ChangePage),
        (status = 404, description = "No such job (`no-job`)", body = ErrorBody),
    ))]
async fn job_changes(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<JobId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<ChangePage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    changes(&s, id, page).await.map(Json)
}

/// A page of a job's changes, as `GET /jobs/{id}/changes` says.
pub(crate) async fn changes(s: &ApiState, id: JobId, page: Paging) -> Result<ChangePage, ApiError> {
    job(s, id).await?;
    // A page read as a page: memory does not grow with the job's size.
    let (items, total) = s.store().changes_page(id, page.offset, page.limit).await?;
    Ok(ChangePage {
        items: items.into_iter().map(ChangeView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: Some(total),
    })
}

/// The plan a dry run (or an init refused by the discrepancy check) keeps,
/// not yet applied: per object type, how many objects it adds, changes and
/// deletes, and the first keys it deletes.
#[utoipa::path(get, path = "/jobs/{id}/plan", tag = "jobs",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The plan, per object type", body = PlanView),
        (status = 404, description = "No such job (`no-job`)", body = ErrorBody),
        (status = 409, description = "The job keeps no plan (`no-plan`), or it was applied (`plan-applied`)", body = ErrorBody),
    ))]
async fn job_plan(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<PlanView>, ApiError> {
    plan(&s, id).await.map(Json)
}

/// The plan a job keeps, as `GET /jobs/{id}/plan` says.
pub(crate) async fn plan(s: &ApiState, id: JobId) -> Result<PlanView, ApiError> {
    let j = job(s, id).await?;
    match s.store().plan(id).await? {
        Some(p) => Ok(PlanView::new(j.element, p)),
        None => Err(match (j.applied_at, j.applied_by) {
            (Some(at), by) => ucsync_engine::RunnerError::PlanApplied {
                job: id,
                at: ucsync_store::time_text(at),
                by: by.unwrap_or_default(),
            },
            _ => ucsync_engine::RunnerError::NoPlan(id),
        }
        .into()),
    }
}

/// Applies exactly the plan a dry run (or an init refused by the
/// discrepancy check) kept, in one transaction — if nothing changed since
/// on the element (its version, and what it tells changed since the plan's
/// sync point, by any login) nor in ucsync's database (another sync,
/// notify sync or a change made through ucsync on that element). Else
/// nothing is applied: 409 `plan-stale`, "the plan is stale: run the
/// preview again". An init's plan is recorded as the element's init.
#[utoipa::path(post, path = "/jobs/{id}/apply", tag = "jobs",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "Applied: the job, with `applied_at`, `applied_by` and the counts of what was applied", body = JobView),
        (status = 404, description = "No such job (`no-job`), or its element was removed (`no-element`)", body = ErrorBody),
        (status = 409, description = "The plan is stale (`plan-stale`), was already applied (`plan-applied`), the job keeps none (`no-plan`), or a job runs on the element (`element-busy`)", body = ErrorBody),
        (status = 502, description = "The element could not be asked whether it changed (`element-error`, `element-login-failed`, `host-key-mismatch`)", body = ErrorBody),
    ))]
async fn apply_plan(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<JobView>, ApiError> {
    apply(&s, &caller, id).await.map(Json)
}

/// Applies the plan a job keeps, as `POST /jobs/{id}/apply` says.
pub(crate) async fn apply(s: &ApiState, caller: &Caller, id: JobId) -> Result<JobView, ApiError> {
    job(s, id).await?;
    let j = s.runner.apply_plan(id, &caller.name).await?;
    tracing::info!(job = id.0, by = %caller.name, "plan applied");
    Ok(j.into())
}
