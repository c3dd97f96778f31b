//! Jobs: stopping one.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use ucsync_store::JobId;

use super::session::local_path;
use super::{Action, PageResult, fail};
use crate::ApiState;
use crate::routes::jobs;

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
