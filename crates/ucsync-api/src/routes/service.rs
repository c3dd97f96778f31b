//! The service itself: the event stream, the OpenAPI document, health,
//! metrics and the web console.

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Json, body::Bytes};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use ucsync_engine::Event;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::error::ApiError;
use crate::model::{ErrorBody, ErrorCode, EventView, HealthView};

/// Under `/api/v1`, with a token.
pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(events))
        .routes(routes!(openapi_json))
}

/// Outside `/api/v1`, with a token.
pub(crate) fn outside() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Without a token.
pub(crate) fn public() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

fn event_view(ev: Event) -> EventView {
    match ev {
        Event::Job { job } => EventView::Job {
            job: Box::new((*job).into()),
        },
        Event::Progress {
            job,
            element,
            progress,
            counts,
        } => EventView::Progress {
            job: job.0,
            element,
            progress: crate::model::progress_view(*progress),
            counts: counts.into(),
        },
        Event::Element { name, change } => EventView::Element { name, change },
        Event::Missed => EventView::Lagged { missed: 0 },
        Event::Alarm { change, alarm } => EventView::Alarm {
            change: change.as_str().into(),
            alarm: Box::new((*alarm).into()),
        },
    }
}

/// Server-sent events: `job` when a job is queued, starts or ends, and
/// `progress` while an init reads, of every node sharing the database;
/// `element` when an element is added, changed or removed; `alarm` when an
/// alarm this node raised is raised or cleared; `lagged` when
/// this client fell behind and missed some, or (`missed` 0) when this node
/// listens again for the other nodes' events after losing its connection
/// for them: read the lists again. A comment every 15 s keeps
/// the connection open; the stream ends when the service shuts down. At
/// most `max_event_streams` are open at once.
#[utoipa::path(get, path = "/events", tag = "service",
    responses(
        (status = 200, description = "An event stream; each event's data is JSON", content_type = "text/event-stream", body = EventView),
        (status = 503, description = "As many event streams are open as the service allows (`too-many-streams`)", body = ErrorBody),
    ))]
async fn events(
    State(s): State<ApiState>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    event_stream(&s)
}

/// The event stream, for the API's clients and the console's pages alike.
pub(crate) fn event_stream(
    s: &ApiState,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>>, ApiError> {
    let Ok(place) = s.streams.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            ErrorCode::TooManyStreams,
            format!(
                "{} event streams are open, as many as the service allows (max_event_streams): close one, or try again later",
                s.settings.max_event_streams
            ),
        ));
    };
    let rx = s.runner.subscribe();
    // The place is given back when the stream is dropped.
    let stream = futures::stream::unfold((rx, place), |(mut rx, place)| async move {
        let view = match rx.recv().await {
            Ok(ev) => event_view(ev),
            Err(RecvError::Lagged(missed)) => EventView::Lagged { missed },
            Err(RecvError::Closed) => return None,
        };
        let name = match &view {
            EventView::Job { .. } => "job",
            EventView::Progress { .. } => "progress",
            EventView::Element { .. } => "element",
            EventView::Alarm { .. } => "alarm",
            EventView::Lagged { .. } => "lagged",
        };
        let data = serde_json::to_string(&view).unwrap_or_else(|_| "{}".into());
        Some((Ok(SseEvent::default().event(name).data(data)), (rx, place)))
    });
    let stream = futures::StreamExt::take_until(stream, s.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(s.settings.keep_alive)))
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
async fn openapi_json() -> Response {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    let body = JSON
        .get_or_init(|| {
            Bytes::from(serde_json::to_vec(crate::openapi().as_ref()).unwrap_or_default())
        })
        .clone();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Whether the service is up and its database answers. Needs no token.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "Up", body = HealthView),
        (status = 503, description = "The database does not answer (`unavailable`)", body = ErrorBody),
    ))]
async fn healthz(State(s): State<ApiState>) -> Result<Json<HealthView>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(5), s.store().elements()).await {
        Ok(Ok(_)) => Ok(Json(HealthView {
            status: "ok".into(),
        })),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: the database failed");
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "the database does not answer: the service log has the details",
            ))
        }
        Err(_) => Err(ApiError::new(
            ErrorCode::Unavailable,
            "the database did not answer within 5 s",
        )),
    }
}

/// Prometheus metrics (text format 0.0.4): jobs by type and state, sync
/// durations, objects per element and type, open alarms per severity, and
/// the age of each element's last successful sync. Any API token may read
/// it, and so may the service's `metrics_token`, which is good for nothing
/// else.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
async fn metrics(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let text = crate::metrics::render(&s).await?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
