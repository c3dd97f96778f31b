//! The handlers, one module per resource; each module's `router()` gives
//! its routes with their OpenAPI operations.

pub(crate) mod alarms;
pub(crate) mod catalog;
pub(crate) mod elements;
pub(crate) mod import;
pub(crate) mod jobs;
pub(crate) mod nodes;
pub(crate) mod objects;
pub(crate) mod schedules;
pub(crate) mod service;
pub(crate) mod tokens;
pub(crate) mod users;

use ucsync_store::{Element, Store};

use crate::error::ApiError;

/// The element of that name, or 404 naming it.
pub(crate) async fn element(store: &dyn Store, name: &str) -> Result<Element, ApiError> {
    store
        .element(name)
        .await?
        .ok_or_else(|| ApiError::no_element(name))
}
