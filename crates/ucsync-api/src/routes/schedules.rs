//! `/schedules`: when sync jobs run by themselves. The API checks and
//! stores schedules; the engine's scheduler fires them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ucsync_engine::scheduler::parse_record;
use ucsync_schedule::{Schedule, ScheduleSpec, Target};
use ucsync_store::{NewSchedule, ScheduleId, ScheduleRecord, StoreError, time_text};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::model::{
    ErrorBody, ErrorCode, FieldError, NewScheduleBody, PageQuery, Paging, SchedulePage,
    SchedulePatch, ScheduleView,
};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, add_schedule))
        .routes(routes!(get_schedule, patch_schedule, delete_schedule))
}

/// Checks that a specification can fire and names elements that exist;
/// returns the schedule and its next due time, counted from when it last
/// fired (an edit keeps that, so a one-off that ran does not run again).
async fn check(
    s: &ApiState,
    spec: ScheduleSpec,
    last_fired: Option<DateTime<Utc>>,
) -> Result<(Schedule, Option<DateTime<Utc>>), ApiError> {
    let schedule = Schedule::new(spec, s.settings.default_time_zone)
        .map_err(|e| FieldError::new(e.field(), e.to_string()))?;
    if let Target::Elements(names) = schedule.target() {
        for (i, n) in names.iter().enumerate() {
            if s.store().element(n.as_str()).await?.is_none() {
                return Err(
                    ApiError::no_element(n.as_str()).with_field(format!("target.elements[{i}]"))
                );
            }
        }
    }
    let status = schedule.status(last_fired, Utc::now());
    if schedule.is_enabled() && status.due.is_none() && status.next.is_none() {
        let end = schedule.end().map(time_text).unwrap_or_default();
        return Err(FieldError::new(
            "end",
            format!("end ({end}) has passed, so the schedule would never run; set a later end or remove it"),
        )
        .into());
    }
    Ok((schedule, status.due.or(status.next)))
}

pub(crate) fn view(s: &ApiState, r: &ScheduleRecord) -> Result<ScheduleView, String> {
    let (schedule, _) = parse_record(r, s.settings.default_time_zone)?;
    Ok(ScheduleView::new(r, &schedule))
}

async fn record(s: &ApiState, id: ScheduleId) -> Result<ScheduleRecord, ApiError> {
    s.store()
        .schedule(id)
        .await?
        .ok_or_else(|| StoreError::NoSchedule(id).into())
}

/// Schedules, default ones included.
#[utoipa::path(get, path = "/schedules", tag = "schedules", params(PageQuery),
    responses((status = 200, description = "A page of schedules", body = SchedulePage)))]
async fn list_schedules(
    State(s): State<ApiState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<SchedulePage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    schedule_page(&s, page).await.map(Json)
}

/// A page of schedules, as `GET /schedules` answers it.
pub(crate) async fn schedule_page(s: &ApiState, page: Paging) -> Result<SchedulePage, ApiError> {
    let all = s.store().schedules().await?;
    let mut items = Vec::new();
    for r in page.slice(&all) {
        // One unreadable schedule must not hide the others; the scheduler skips it too.
        match view(s, &r) {
            Ok(v) => items.push(v),
            Err(e) => tracing::warn!(schedule = r.id, error = %e, "stored schedule unreadable"),
        }
    }
    Ok(SchedulePage {
        items,
        offset: page.offset,
        limit: page.limit,
        total: Some(all.len() as u64),
    })
}

/// Adds a schedule. One that could never fire is refused, naming the field
/// at fault.
#[utoipa::path(post, path = "/schedules", tag = "schedules", request_body = NewScheduleBody,
    responses(
        (status = 201, description = "Added", body = ScheduleView),
        (status = 404, description = "A target element is unknown (`no-element`)", body = ErrorBody),
    ))]
async fn add_schedule(
    State(s): State<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewScheduleBody>,
) -> Result<(StatusCode, Json<ScheduleView>), ApiError> {
    let v = add(&s, &caller, &body).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Adds a schedule, as `POST /schedules` does.
pub(crate) async fn add(
    s: &ApiState,
    caller: &Caller,
    body: &NewScheduleBody,
) -> Result<ScheduleView, ApiError> {
    let (name, spec) = body.parse()?;
    let (schedule, next_due) = check(s, spec, None).await?;
    let r = s
        .store()
        .add_schedule(&NewSchedule {
            name,
            default_for: None,
            spec: schedule.to_spec(),
            next_due,
        })
        .await?;
    tracing::info!(schedule = r.id, name = %r.name, by = %caller.name, "schedule added");
    Ok(ScheduleView::new(&r, &schedule))
}

/// One schedule.
#[utoipa::path(get, path = "/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "The schedule's id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleView),
        (status = 404, description = "No such schedule (`no-schedule`)", body = ErrorBody),
    ))]
async fn get_schedule(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<ScheduleId>,
) -> Result<Json<ScheduleView>, ApiError> {
    one(&s, id).await.map(Json)
}

/// One schedule, as `GET /schedules/{id}` answers it.
pub(crate) async fn one(s: &ApiState, id: ScheduleId) -> Result<ScheduleView, ApiError> {
    let r = record(s, id).await?;
    view(s, &r).map_err(ApiError::internal)
}

/// Changes a schedule (a default one too: it can be moved or disabled). Its
/// next run is computed from the new specification and when it last fired.
#[utoipa::path(patch, path = "/schedules/{id}", tag = "schedules", request_body = SchedulePatch,
    params(("id" = i64, Path, description = "The schedule's id")),
    responses(
        (status = 200, description = "The schedule as it is now", body = ScheduleView),
        (status = 404, description = "No such schedule (`no-schedule`), or a target element is unknown (`no-element`)", body = ErrorBody),
    ))]
async fn patch_schedule(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScheduleId>,
    JsonBody(patch): JsonBody<SchedulePatch>,
) -> Result<Json<ScheduleView>, ApiError> {
    change(&s, &caller, id, &patch).await.map(Json)
}

/// Changes a schedule, as `PATCH /schedules/{id}` does.
pub(crate) async fn change(
    s: &ApiState,
    caller: &Caller,
    id: ScheduleId,
    patch: &SchedulePatch,
) -> Result<ScheduleView, ApiError> {
    let r = record(s, id).await?;
    let (current, state) =
        parse_record(&r, s.settings.default_time_zone).map_err(ApiError::internal)?;
    let (name, spec) = patch.apply(&r.name, &current.to_spec())?;
    let (schedule, next_due) = check(s, spec, state.last_fired).await?;
    let r = s
        .store()
        .update_schedule(id, &name, &schedule.to_spec(), next_due)
        .await?;
    tracing::info!(schedule = id, by = %caller.name, "schedule changed");
    Ok(ScheduleView::new(&r, &schedule))
}

/// Removes a schedule. An element's default schedule is a system
/// schedule: it goes with its element, and is disabled rather than removed.
#[utoipa::path(delete, path = "/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "The schedule's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such schedule (`no-schedule`)", body = ErrorBody),
        (status = 409, description = "An element's default schedule (`system-schedule`): disable it instead", body = ErrorBody),
    ))]
async fn delete_schedule(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<ScheduleId>,
) -> Result<StatusCode, ApiError> {
    remove(&s, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The refusal to remove `element`'s default schedule `id`.
pub(crate) fn system_schedule(id: ScheduleId, element: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SystemSchedule,
        format!(
            "schedule {id} is the default schedule of '{element}' and goes with it: disable it instead (PATCH /api/v1/schedules/{id} with {{\"enabled\": false}}, or ucsync schedule edit {id} --disabled)"
        ),
    )
}

/// Removes a schedule, as `DELETE /schedules/{id}` does: an element's
/// default schedule is refused.
pub(crate) async fn remove(s: &ApiState, caller: &Caller, id: ScheduleId) -> Result<(), ApiError> {
    let r = record(s, id).await?;
    if let Some(element) = &r.default_for {
        return Err(system_schedule(id, element));
    }
    if !s.store().delete_schedule(id).await? {
        return Err(StoreError::NoSchedule(id).into());
    }
    tracing::info!(schedule = id, by = %caller.name, "schedule removed");
    Ok(())
}
