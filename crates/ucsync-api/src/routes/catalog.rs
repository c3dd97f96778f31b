//! `/catalog`: the catalogues in effect, read only.

use axum::Json;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::ApiState;
use crate::model::CatalogView;

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(catalog))
}

/// The catalogues in effect: for a CM, the object types ucsync
/// synchronizes with their key, name and secret field ids — the built-in
/// catalogue with the site's file (the `cm_catalog` setting) applied, as
/// every CM connector and key check of this service reads it.
#[utoipa::path(get, path = "/catalog", tag = "catalog",
    responses((status = 200, description = "The catalogues in effect", body = CatalogView)))]
async fn catalog(State(s): State<ApiState>) -> Json<CatalogView> {
    Json(CatalogView::from(s.runner.catalogs()))
}
