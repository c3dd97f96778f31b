//! `/alarms`: the alarms on elements, and acknowledging them; and
//! `/webhooks/{name}/deliveries`, the delivery log of each webhook alarms
//! are sent to. The engine raises and clears alarms; the API only reads
//! them and records acknowledgements.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::model::{
    AlarmFilter, AlarmPage, AlarmView, DeliveryPage, DeliveryView, ErrorBody, ErrorCode, PageQuery,
};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_alarms))
        .routes(routes!(get_alarm))
        .routes(routes!(ack_alarm))
        .routes(routes!(webhook_deliveries))
}

fn no_alarm(id: i64) -> ApiError {
    ApiError::new(ErrorCode::NoAlarm, format!("no alarm {id}"))
}

/// Alarms, the last seen first: open ones unless `state` says otherwise,
/// optionally of one element, severity or condition, acknowledged or not.
#[utoipa::path(get, path = "/alarms", tag = "alarms", params(AlarmFilter, PageQuery),
    responses((status = 200, description = "A page of alarms", body = AlarmPage)))]
async fn list_alarms(
    State(s): State<ApiState>,
    ApiQuery(filter): ApiQuery<AlarmFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<AlarmPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    let q = filter.query(page.offset, page.limit);
    let (items, total) = s.store().alarms(&q).await?;
    Ok(Json(AlarmPage {
        items: items.into_iter().map(AlarmView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: Some(total),
    }))
}

/// One alarm.
#[utoipa::path(get, path = "/alarms/{id}", tag = "alarms",
    params(("id" = i64, Path, description = "The alarm's id")),
    responses(
        (status = 200, description = "The alarm", body = AlarmView),
        (status = 404, description = "No such alarm (`no-alarm`)", body = ErrorBody),
    ))]
async fn get_alarm(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AlarmView>, ApiError> {
    let alarm = s.store().alarm(id).await?.ok_or_else(|| no_alarm(id))?;
    Ok(Json(alarm.into()))
}

/// Acknowledges an alarm, open or cleared, as the caller's token. Once: a
/// second acknowledgement answers the alarm as the first left it.
#[utoipa::path(post, path = "/alarms/{id}/ack", tag = "alarms",
    params(("id" = i64, Path, description = "The alarm's id")),
    responses(
        (status = 200, description = "The alarm, acknowledged", body = AlarmView),
        (status = 404, description = "No such alarm (`no-alarm`)", body = ErrorBody),
    ))]
async fn ack_alarm(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AlarmView>, ApiError> {
    let alarm = s
        .store()
        .ack_alarm(id, &caller.name, Utc::now())
        .await?
        .ok_or_else(|| no_alarm(id))?;
    tracing::info!(alarm = id, by = %caller.name, "alarm acknowledged");
    Ok(Json(alarm.into()))
}

/// The delivery log of a configured webhook: each attempt to deliver an
/// alarm's raise or clear, newest first.
#[utoipa::path(get, path = "/webhooks/{name}/deliveries", tag = "alarms",
    params(("name" = String, Path, description = "The webhook's name in the settings"), PageQuery),
    responses(
        (status = 200, description = "A page of delivery attempts", body = DeliveryPage),
        (status = 404, description = "No webhook of that name is configured (`no-webhook`)", body = ErrorBody),
    ))]
async fn webhook_deliveries(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    if !s.settings.webhooks.contains(&name) {
        return Err(ApiError::new(
            ErrorCode::NoWebhook,
            format!("no webhook '{name}' is configured"),
        ));
    }
    let (items, total) = s.store().deliveries(&name, page.offset, page.limit).await?;
    Ok(Json(DeliveryPage {
        items: items.into_iter().map(DeliveryView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: Some(total),
    }))
}
