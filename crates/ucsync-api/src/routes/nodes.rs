//! `/nodes`: the services sharing the database, which node does what.

use axum::Json;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::model::{NodePage, NodeView, PageQuery};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list_nodes))
}

/// The nodes: each `ucsync serve` on the database, with its version,
/// addresses, heartbeat and jobs. A node whose heartbeat stopped is `lost`;
/// one that stopped cleanly is not listed.
#[utoipa::path(get, path = "/nodes", tag = "nodes", params(PageQuery),
    responses((status = 200, description = "A page of nodes, by name", body = NodePage)))]
async fn list_nodes(
    State(s): State<ApiState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<NodePage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    let all = s.store().nodes().await?;
    let now = chrono::Utc::now();
    let total = all.len() as u64;
    Ok(Json(NodePage {
        items: page
            .slice(&all)
            .into_iter()
            .map(|n| NodeView::at(n, now))
            .collect(),
        offset: page.offset,
        limit: page.limit,
        total: Some(total),
    }))
}
