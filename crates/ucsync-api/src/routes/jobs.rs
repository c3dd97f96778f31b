//! `/sync` and `/jobs`: ask for syncs, follow and stop jobs, and read what
//! they changed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ucsync_core::{ElementName, Trigger};
use ucsync_store::JobId;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::model::{
    ChangePage, ChangeView, ErrorBody, ErrorCode, JobFilter, JobPage, JobView, PageQuery,
    RequestedJob, SyncBody, SyncResponse, SyncTargets,
};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(sync))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(stop_job))
        .routes(routes!(job_changes))
}

/// Asks for a sync of some elements or all. A request joins a queued or
/// running job of the same or greater strength on an element (`joined`);
/// a stronger one is queued after it. Nothing is queued when an element is
/// unknown.
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
            .request(name, body.sync_type, Trigger::OnDemand, &caller.name)
            .await?;
        jobs.push(RequestedJob {
            joined: r.joined,
            job: r.job.into(),
        });
    }
    tracing::info!(sync_type = %body.sync_type, elements = names.len(), by = %caller.name, "sync requested");
    Ok((StatusCode::ACCEPTED, Json(SyncResponse { jobs })))
}

/// Jobs, newest first, optionally of one element and in one state.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobFilter, PageQuery),
    responses((status = 200, description = "A page of jobs", body = JobPage)))]
async fn list_jobs(
    State(s): State<ApiState>,
    ApiQuery(filter): ApiQuery<JobFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<JobPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    let jobs = s
        .store()
        .jobs(
            filter.element.as_deref(),
            filter.state,
            page.offset,
            page.limit,
        )
        .await?;
    Ok(Json(JobPage {
        items: jobs.into_iter().map(JobView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: None,
    }))
}

async fn job(s: &ApiState, id: JobId) -> Result<ucsync_store::Job, ApiError> {
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
    let j = job(&s, id).await?;
    let log = s.store().job_log_lines(id).await?;
    Ok(Json(JobView::with_log(j, log)))
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
    let before = job(&s, id).await?;
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
            Ok(Json(job.into()))
        }
        None => Err(ucsync_store::StoreError::NoJob(id).into()),
    }
}

/// The object changes a job applied — or, for an init refused by the
/// discrepancy check, those it would have applied (`applied: false`).
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
    job(&s, id).await?;
    // A page read as a page: memory does not grow with the job's size.
    let (items, total) = s.store().changes_page(id, page.offset, page.limit).await?;
    Ok(Json(ChangePage {
        items: items.into_iter().map(ChangeView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: Some(total),
    }))
}
