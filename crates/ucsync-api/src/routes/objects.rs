//! The synchronized data: an element's objects, search across elements, and
//! administering objects through ucsync (the change is made on the element
//! under its login and stored in the same step).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ucsync_connect::{ConnectError, WriteOp};
use ucsync_core::{ElementKind, ElementName, Fields, ObjectId};
use ucsync_store::ObjectQuery;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::element;
use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::model::{
    ErrorBody, ErrorCode, HistoryEntryView, HistoryPage, NewObjectBody, ObjectFilter, ObjectPage,
    ObjectPatch, ObjectView, PageQuery, Paging, SearchHitView, SearchPage, SearchQuery,
};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_objects))
        .routes(routes!(add_object, change_form))
        .routes(routes!(change_object, remove_object))
        .routes(routes!(object_history))
        .routes(routes!(search))
}

/// An element's objects, by type and key.
#[utoipa::path(get, path = "/elements/{name}/objects", tag = "objects",
    params(("name" = String, Path, description = "The element's name"), ObjectFilter, PageQuery),
    responses(
        (status = 200, description = "A page of objects; `total` when unfiltered", body = ObjectPage),
        (status = 404, description = "No such element (`no-element`)", body = ErrorBody),
    ))]
async fn list_objects(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(filter): ApiQuery<ObjectFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<ObjectPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    object_page(&s, &name, filter, page).await.map(Json)
}

/// A page of an element's objects, as `GET /elements/{name}/objects`
/// answers it (secrets left out): read as a page from the store.
pub(crate) async fn object_page(
    s: &ApiState,
    name: &str,
    filter: ObjectFilter,
    page: Paging,
) -> Result<ObjectPage, ApiError> {
    let store = s.store().as_ref();
    let e = element(store, name).await?;
    let unfiltered = filter.object_type.is_none() && filter.key.is_none();
    let objects = store
        .objects(
            e.id,
            &ObjectQuery {
                object_type: filter.object_type,
                key: filter.key,
                offset: page.offset,
                limit: page.limit,
            },
        )
        .await?;
    let total = if unfiltered {
        Some(store.object_count(e.id).await?)
    } else {
        None
    };
    Ok(ObjectPage {
        items: objects.into_iter().map(ObjectView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total,
    })
}

/// One object's history across jobs, notify events and changes made
/// through ucsync: newest first, each with the element login that made it.
#[utoipa::path(get, path = "/elements/{name}/objects/{type}/{key}/history", tag = "objects",
    params(("name" = String, Path, description = "The element's name"),
        ("type" = String, Path, description = "The object type", pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"),
        ("key" = String, Path, description = "The object's key"),
        PageQuery),
    responses(
        (status = 200, description = "A page of the object's changes, newest first; empty for an object never changed here", body = HistoryPage),
        (status = 404, description = "No such element (`no-element`)", body = ErrorBody),
    ))]
async fn object_history(
    State(s): State<ApiState>,
    ApiPath((name, t, key)): ApiPath<(String, String, String)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    let t = object_type(&t)?;
    history_page(&s, &name, &ObjectId::new(t, key), page)
        .await
        .map(Json)
}

/// A page of one object's history, as
/// `GET /elements/{name}/objects/{type}/{key}/history` answers it.
pub(crate) async fn history_page(
    s: &ApiState,
    name: &str,
    id: &ObjectId,
    page: Paging,
) -> Result<HistoryPage, ApiError> {
    let store = s.store().as_ref();
    let e = element(store, name).await?;
    let (items, total) = store
        .object_history(e.id, &id.object_type, &id.key, page.offset, page.limit)
        .await?;
    Ok(HistoryPage {
        items: items.into_iter().map(HistoryEntryView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: Some(total),
    })
}

/// Makes the change on the element and stores it; answers the object as
/// stored now (`None` once removed).
async fn administer(
    s: &ApiState,
    caller: &Caller,
    name: &str,
    op: WriteOp,
    key_from: KeyFrom,
) -> Result<Option<ObjectView>, ApiError> {
    let store = s.store().as_ref();
    let e = element(store, name).await?;
    let element_name = ElementName::parse(name).map_err(ApiError::internal)?;
    let id = match &op {
        WriteOp::Add { id, .. } | WriteOp::Change { id, .. } | WriteOp::Remove { id } => id.clone(),
    };
    check_key(s.runner.catalogs(), e.kind, &id, key_from)?;
    s.runner.administer(&element_name, op).await?;
    tracing::info!(element = %name, object = %id, by = %caller.name, "object administered");
    // Read back from the store: its form has secrets encrypted, so they are
    // recognised and left out whatever the element kind.
    let stored = store
        .objects(
            e.id,
            &ObjectQuery {
                object_type: Some(id.object_type.clone()),
                key: Some(id.key.clone()),
                offset: 0,
                limit: 1,
            },
        )
        .await?;
    Ok(stored.into_iter().next().map(ObjectView::from))
}

/// Where a request's key came from, so a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFrom {
    /// The body's `key`.
    Body,
    /// The path's `{key}`.
    Path,
    /// No key: the path names a system-wide form by its type.
    None,
}

/// The key against its object type's grammar (the one check the engine
/// makes too), answered as a bad field of the request.
fn check_key(
    catalogs: &ucsync_connect::Catalogs,
    kind: ElementKind,
    id: &ObjectId,
    from: KeyFrom,
) -> Result<(), ApiError> {
    match catalogs.check(kind, &id.object_type, &id.key) {
        Ok(()) => Ok(()),
        Err(ConnectError::InvalidKey(m)) => Err(match from {
            KeyFrom::Body => ApiError::new(ErrorCode::InvalidField, m).with_field("key"),
            KeyFrom::Path => ApiError::new(ErrorCode::InvalidPath, m).with_field("key"),
            KeyFrom::None => ApiError::new(
                ErrorCode::InvalidPath,
                format!(
                    "{t} objects each have a key: change one at /objects/{t}/{{key}}",
                    t = id.object_type
                ),
            )
            .with_field("type"),
        }),
        Err(e) => Err(e.into()),
    }
}

fn stored(view: Option<ObjectView>) -> Result<ObjectView, ApiError> {
    view.ok_or_else(|| {
        ApiError::internal("the element took the change, but the store has no such object")
    })
}

fn object_type(t: &str) -> Result<String, ApiError> {
    if t.trim().is_empty() {
        return Err(
            ApiError::new(ErrorCode::InvalidPath, "the object type must not be empty")
                .with_field("type"),
        );
    }
    Ok(t.to_string())
}

/// Adds an object on the element and stores it.
#[utoipa::path(post, path = "/elements/{name}/objects/{type}", tag = "objects", request_body = NewObjectBody,
    params(("name" = String, Path, description = "The element's name"),
        ("type" = String, Path, description = "The object type (`station`, `user`, …)", pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")),
    responses(
        (status = 201, description = "Added on the element and stored", body = ObjectView),
        (status = 404, description = "No such element (`no-element`), or a type the element does not know (`unknown-object-type`)", body = ErrorBody),
        (status = 409, description = "A job is running on the element (`element-busy`)", body = ErrorBody),
        (status = 422, description = "The element refused it (`element-refused`); nothing was stored", body = ErrorBody),
        (status = 502, description = "The element could not be reached (`element-error`, `element-login-failed`, `host-key-mismatch`)", body = ErrorBody),
    ))]
async fn add_object(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath((name, t)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<NewObjectBody>,
) -> Result<(StatusCode, Json<ObjectView>), ApiError> {
    let t = object_type(&t)?;
    let (key, fields) = body.parse()?;
    let op = WriteOp::Add {
        id: ObjectId::new(t, key),
        fields,
    };
    let view = administer(&s, &caller, &name, op, KeyFrom::Body).await?;
    Ok((StatusCode::CREATED, Json(stored(view)?)))
}

async fn change(
    s: ApiState,
    caller: Caller,
    name: String,
    id: ObjectId,
    fields: Fields,
    key_from: KeyFrom,
) -> Result<Json<ObjectView>, ApiError> {
    let view = administer(&s, &caller, &name, WriteOp::Change { id, fields }, key_from).await?;
    Ok(Json(stored(view)?))
}

/// Changes a system-wide form (one without a key, such as
/// `system-parameters-features`) on the element and stores it.
#[utoipa::path(patch, path = "/elements/{name}/objects/{type}", tag = "objects", request_body = ObjectPatch,
    params(("name" = String, Path, description = "The element's name"),
        ("type" = String, Path, description = "The form's object type", pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")),
    responses(
        (status = 200, description = "Changed on the element and stored", body = ObjectView),
        (status = 404, description = "No such element (`no-element`), or a type the element does not know (`unknown-object-type`)", body = ErrorBody),
        (status = 409, description = "A job is running on the element (`element-busy`)", body = ErrorBody),
        (status = 422, description = "The element refused it (`element-refused`); nothing was stored", body = ErrorBody),
        (status = 502, description = "The element could not be reached (`element-error`, `element-login-failed`, `host-key-mismatch`)", body = ErrorBody),
    ))]
async fn change_form(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath((name, t)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<ObjectPatch>,
) -> Result<Json<ObjectView>, ApiError> {
    let id = ObjectId::new(object_type(&t)?, "");
    let fields = body.parse()?;
    change(s, caller, name, id, fields, KeyFrom::None).await
}

/// Changes an object on the element and stores it: only the fields given
/// change; an empty value clears a field.
#[utoipa::path(patch, path = "/elements/{name}/objects/{type}/{key}", tag = "objects", request_body = ObjectPatch,
    params(("name" = String, Path, description = "The element's name"),
        ("type" = String, Path, description = "The object type", pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"),
        ("key" = String, Path, description = "The object's key: one word, of its type's grammar (a CM station's is its extension, 1 to 13 digits); another answers 400 (`invalid-path`) with nothing sent")),
    responses(
        (status = 200, description = "Changed on the element and stored", body = ObjectView),
        (status = 404, description = "No such element (`no-element`), or a type the element does not know (`unknown-object-type`)", body = ErrorBody),
        (status = 409, description = "A job is running on the element (`element-busy`)", body = ErrorBody),
        (status = 422, description = "The element refused it (`element-refused`); nothing was stored", body = ErrorBody),
        (status = 502, description = "The element could not be reached (`element-error`, `element-login-failed`, `host-key-mismatch`)", body = ErrorBody),
    ))]
async fn change_object(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath((name, t, key)): ApiPath<(String, String, String)>,
    JsonBody(body): JsonBody<ObjectPatch>,
) -> Result<Json<ObjectView>, ApiError> {
    let id = ObjectId::new(object_type(&t)?, key);
    let fields = body.parse()?;
    change(s, caller, name, id, fields, KeyFrom::Path).await
}

/// Removes an object on the element and from the store.
#[utoipa::path(delete, path = "/elements/{name}/objects/{type}/{key}", tag = "objects",
    params(("name" = String, Path, description = "The element's name"),
        ("type" = String, Path, description = "The object type", pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"),
        ("key" = String, Path, description = "The object's key: one word, of its type's grammar (a CM station's is its extension, 1 to 13 digits); another answers 400 (`invalid-path`) with nothing sent")),
    responses(
        (status = 204, description = "Removed on the element and from the store"),
        (status = 404, description = "No such element (`no-element`), or a type the element does not know (`unknown-object-type`)", body = ErrorBody),
        (status = 409, description = "A job is running on the element (`element-busy`)", body = ErrorBody),
        (status = 422, description = "The element refused it (`element-refused`); nothing was stored", body = ErrorBody),
        (status = 502, description = "The element could not be reached (`element-error`, `element-login-failed`, `host-key-mismatch`)", body = ErrorBody),
    ))]
async fn remove_object(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath((name, t, key)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ObjectId::new(object_type(&t)?, key);
    administer(&s, &caller, &name, WriteOp::Remove { id }, KeyFrom::Path).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Objects, across all elements, whose key or name starts with `q`
/// (case-insensitive), by element, type and key.
#[utoipa::path(get, path = "/search", tag = "objects", params(SearchQuery, PageQuery),
    responses((status = 200, description = "A page of objects found", body = SearchPage)))]
async fn search(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<SearchPage>, ApiError> {
    let q = q.parse().map_err(ApiError::query)?;
    let page = page.parse().map_err(ApiError::query)?;
    search_page(&s, &q, page).await.map(Json)
}

/// A page of objects whose key or name starts with `q` (as
/// [`SearchQuery::parse`] gives it), as `GET /search` answers it.
pub(crate) async fn search_page(
    s: &ApiState,
    q: &str,
    page: Paging,
) -> Result<SearchPage, ApiError> {
    let hits = s.store().search(q, page.offset, page.limit).await?;
    Ok(SearchPage {
        items: hits.into_iter().map(SearchHitView::from).collect(),
        offset: page.offset,
        limit: page.limit,
        total: None,
    })
}
