//! The handlers, one module per resource; each module's `router()` gives
//! its routes with their OpenAPI operations.

pub mod catalog;
pub mod elements;
pub mod jobs;
pub mod nodes;
pub mod objects;
pub mod schedules;
pub mod service;
pub mod tokens;

use ucsync_store::{Element, Store};

use crate::error::ApiError;

/// The element of that name, or 404 naming it.
pub(crate) async fn element(store: &dyn Store, name: &str) -> Result<Element, ApiError> {
    store
        .element(name)
        .await?
        .ok_or_else(|| ApiError::no_element(name))
}
