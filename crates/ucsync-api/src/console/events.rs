//! The event stream of the console's pages: the API's stream
//! (`GET /api/v1/events`), for a signed-in browser, which sends a cookie
//! rather than a bearer token.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{Operator, fail};
use crate::ApiState;
use crate::routes::service::event_stream;

/// `GET /console/events`.
pub(crate) async fn stream(State(s): State<ApiState>, operator: Operator) -> Response {
    match event_stream(&s) {
        Ok(sse) => sse.into_response(),
        Err(e) => fail(&operator)(e.into()),
    }
}
