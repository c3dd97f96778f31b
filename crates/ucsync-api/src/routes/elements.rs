//! `/elements`: add, list, show, change, remove and check elements.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use ucsync_core::{ElementKind, ElementState, JobState, SyncType, Trigger};
use ucsync_engine::Event;
use ucsync_store::{JobQuery, Store};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::element;
use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, JsonBody};
use crate::model::{
    CheckView, ElementCreated, ElementPage, ElementPatch, ElementView, ErrorBody, ErrorCode,
    FieldError, JobView, NewElementBody, PageQuery, Paging,
};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_elements, add_element))
        .routes(routes!(get_element, patch_element, delete_element))
        .routes(routes!(check_element))
}

/// The jobs running on elements now: those of `elements`, or of all.
async fn running_jobs(
    store: &dyn Store,
    element: Option<&str>,
) -> Result<Vec<ucsync_store::Job>, ApiError> {
    let q = JobQuery {
        element: element.map(str::to_string),
        states: vec![JobState::Running, JobState::Stopping],
        ..JobQuery::default()
    };
    Ok(store.find_jobs(&q, 0, 0).await?)
}

/// The job of `running` that an element's view shows as running on it: one
/// running, else one stopping.
fn running_on<'j>(running: &'j [ucsync_store::Job], name: &str) -> Option<&'j ucsync_store::Job> {
    [JobState::Running, JobState::Stopping]
        .into_iter()
        .find_map(|state| {
            running
                .iter()
                .find(|j| j.element == name && j.state == state)
        })
}

/// One element's view, read for it alone.
async fn view(store: &dyn Store, e: &ucsync_store::Element) -> Result<ElementView, ApiError> {
    let name = e.name.as_str();
    let running = running_jobs(store, Some(name)).await?;
    let last = store.last_finished_jobs(Some(name)).await?.pop();
    Ok(ElementView::new(
        e,
        store.object_counts_by_type(e.id).await?,
        running_on(&running, name),
        last.as_ref(),
    ))
}

/// The views of `elements`, in three reads whatever their number: every
/// element's counts, the running jobs, each element's newest finished job.
pub(crate) async fn views(
    store: &dyn Store,
    elements: &[ucsync_store::Element],
) -> Result<Vec<ElementView>, ApiError> {
    let mut counts = store.object_counts().await?;
    let running = running_jobs(store, None).await?;
    let last: std::collections::HashMap<String, ucsync_store::Job> = store
        .last_finished_jobs(None)
        .await?
        .into_iter()
        .map(|j| (j.element.clone(), j))
        .collect();
    Ok(elements
        .iter()
        .map(|e| {
            let name = e.name.as_str();
            let objects = counts.remove(&e.id).unwrap_or_default();
            ElementView::new(e, objects, running_on(&running, name), last.get(name))
        })
        .collect())
}

/// A `cm` setting must name an existing CM element.
async fn check_cm(store: &dyn Store, cm: Option<&str>) -> Result<(), ApiError> {
    let Some(cm) = cm else { return Ok(()) };
    cm_is_a_cm(cm, store.element(cm).await?.map(|e| e.kind))
}

/// A `cm` setting names a CM: `found` is the kind of the element of that
/// name, if there is one.
pub(super) fn cm_is_a_cm(cm: &str, found: Option<ElementKind>) -> Result<(), ApiError> {
    match found {
        Some(ElementKind::Cm) => Ok(()),
        Some(kind) => Err(FieldError::new(
            "cm",
            format!("cm names '{cm}', which is a {kind} element, not a cm"),
        )
        .into()),
        None => Err(FieldError::new(
            "cm",
            format!("cm names '{cm}', but there is no element of that name: add the cm first"),
        )
        .into()),
    }
}

/// One element per address and kind: two would synchronize the same data
/// twice, and their jobs would collide on the element.
async fn check_address(
    store: &dyn Store,
    name: &str,
    kind: ElementKind,
    host: &str,
    port: u16,
) -> Result<(), ApiError> {
    let other = store.elements().await?.into_iter().find(|e| {
        e.name.as_str() != name
            && e.kind == kind
            && e.port == port
            && e.host.eq_ignore_ascii_case(host)
    });
    match other {
        None => Ok(()),
        Some(o) => Err(same_address(kind, host, port, o.name.as_str())),
    }
}

/// The refusal of a second element of `kind` at `host:port`, where `other` is.
pub(super) fn same_address(kind: ElementKind, host: &str, port: u16, other: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SameAddress,
        format!(
            "{kind} element '{other}' is already at {host}:{port}: one element per address; change the host or port, or use '{other}'"
        ),
    )
    .with_field("host")
}

/// A host given as an address must be inside the element networks; a name
/// is checked each time ucsync connects (`ucsync_connect::net`).
pub(super) fn check_networks(
    s: &ApiState,
    host: Option<&str>,
    alternate_host: Option<&str>,
) -> Result<(), ApiError> {
    let networks = &s.settings.element_networks;
    for (field, h) in [("host", host), ("alternate_host", alternate_host)] {
        if let Some(h) = h {
            networks.check_host(field, h)?;
        }
    }
    Ok(())
}

/// All elements with their sync status, by name.
#[utoipa::path(get, path = "/elements", tag = "elements", params(PageQuery),
    responses((status = 200, description = "A page of elements", body = ElementPage)))]
async fn list_elements(
    State(s): State<ApiState>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<ElementPage>, ApiError> {
    let page = page.parse().map_err(ApiError::query)?;
    Ok(Json(element_page(&s, page).await?))
}

/// A page of elements with their sync status, by name.
pub(crate) async fn element_page(s: &ApiState, page: Paging) -> Result<ElementPage, ApiError> {
    element_page_where(s, &ElementFilter::default(), page).await
}

/// Which elements a list shows: all of them when nothing is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ElementFilter {
    /// Names starting with it, or holding it (any case), or its host.
    pub text: Option<String>,
    pub kind: Option<ElementKind>,
    pub state: Option<ElementState>,
}

impl ElementFilter {
    fn takes(&self, e: &ucsync_store::Element) -> bool {
        let text = self.text.as_deref().map(str::to_ascii_lowercase);
        self.kind.is_none_or(|k| e.kind == k)
            && text.is_none_or(|t| {
                e.name.as_str().to_ascii_lowercase().contains(&t)
                    || e.host.to_ascii_lowercase().contains(&t)
            })
    }
}

/// A page of the elements `filter` takes, by name; `total` counts them all.
/// A state is known only from an element's view, so filtering by it views
/// every element the other settings take (in the same three reads).
pub(crate) async fn element_page_where(
    s: &ApiState,
    filter: &ElementFilter,
    page: Paging,
) -> Result<ElementPage, ApiError> {
    let store = s.store().as_ref();
    let all: Vec<_> = store
        .elements()
        .await?
        .into_iter()
        .filter(|e| filter.takes(e))
        .collect();
    let (items, total) = match filter.state {
        None => (views(store, &page.slice(&all)).await?, all.len()),
        Some(state) => {
            let mut taken = views(store, &all).await?;
            taken.retain(|v| v.state == state);
            (page.slice(&taken), taken.len())
        }
    };
    Ok(ElementPage {
        items,
        offset: page.offset,
        limit: page.limit,
        total: Some(total as u64),
    })
}

/// Adds an element. A `cm` or `ip-office` element gets its initializing sync
/// queued at once, and the answer includes that job.
#[utoipa::path(post, path = "/elements", tag = "elements", request_body = NewElementBody,
    responses(
        (status = 201, description = "Added", body = ElementCreated,
            headers(("location" = String, description = "The element's URL"))),
        (status = 400, description = "Bad input: the message names the field (`invalid-json`, `invalid-field`, `invalid-body`), or `host` or `alternate_host` is an address outside the element networks (`host-not-allowed`)", body = ErrorBody),
        (status = 409, description = "An element of that name exists (`element-exists`), or one of the same kind at that host and port (`same-address`, naming it)", body = ErrorBody),
    ))]
async fn add_element(
    State(s): State<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewElementBody>,
) -> Result<(StatusCode, HeaderMap, Json<ElementCreated>), ApiError> {
    let created = add(&s, &caller, body).await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/elements/{}", created.element.name)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(created)))
}

/// Adds an element, every field checked; a `cm` or `ip-office` element
/// gets its initializing sync queued.
pub(crate) async fn add(
    s: &ApiState,
    caller: &Caller,
    body: NewElementBody,
) -> Result<ElementCreated, ApiError> {
    let new = body.parse()?;
    check_networks(s, Some(&new.host), new.alternate_host.as_deref())?;
    let store = s.store().as_ref();
    check_cm(store, new.settings.cm.as_deref()).await?;
    check_address(store, new.name.as_str(), new.kind, &new.host, new.port).await?;
    let name = new.name.clone();
    let kind = new.kind;
    let e = store.add_element(new).await.map_err(|e| {
        // The name is what is taken.
        let exists = matches!(e, ucsync_store::StoreError::Exists(_));
        let e = ApiError::from(e);
        if exists { e.with_field("name") } else { e }
    })?;
    let job = added(s, caller, &name, kind).await?;
    Ok(ElementCreated {
        element: view(store, &e).await?,
        job,
    })
}

/// What follows an element added: the log line, the event, and for a
/// `cm` or `ip-office` element its initializing sync, queued (it runs with
/// a place in the init pool).
pub(super) async fn added(
    s: &ApiState,
    caller: &Caller,
    name: &ucsync_core::ElementName,
    kind: ElementKind,
) -> Result<Option<JobView>, ApiError> {
    tracing::info!(element = %name, %kind, by = %caller.name, "element added");
    s.runner.publish(Event::Element {
        name: name.to_string(),
        change: "added".into(),
    });
    if !matches!(kind, ElementKind::Cm | ElementKind::IpOffice) {
        return Ok(None);
    }
    let r = s
        .runner
        .request(name, SyncType::Init, Trigger::ElementAdded, &caller.name)
        .await?;
    Ok(Some(JobView::from(r.job)))
}

/// One element with its sync status.
#[utoipa::path(get, path = "/elements/{name}", tag = "elements",
    params(("name" = String, Path, description = "The element's name")),
    responses(
        (status = 200, description = "The element", body = ElementView),
        (status = 404, description = "No such element (`no-element`)", body = ErrorBody),
    ))]
async fn get_element(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ElementView>, ApiError> {
    Ok(Json(element_view(&s, &name).await?))
}

/// One element with its sync status, as `GET /elements/{name}` answers it.
pub(crate) async fn element_view(s: &ApiState, name: &str) -> Result<ElementView, ApiError> {
    let store = s.store().as_ref();
    let e = element(store, name).await?;
    view(store, &e).await
}

/// Changes an element's settings. `"host_key": "<fingerprint>"` accepts a
/// new host key; `null` clears `alternate_host`, `host_key`, `tls`,
/// `ca_file` and `cm`. Changing `host`, `alternate_host`, `port` or `tls`
/// needs `password` in the same request. A connection kept to the element
/// is closed.
#[utoipa::path(patch, path = "/elements/{name}", tag = "elements", request_body = ElementPatch,
    params(("name" = String, Path, description = "The element's name")),
    responses(
        (status = 200, description = "The element as it is now", body = ElementView),
        (status = 400, description = "Bad input: the message names the field (`invalid-json`, `invalid-field`, `invalid-body`, `invalid-path`; a changed `host`, `alternate_host`, `port` or `tls` without `password` is refused naming `password`), or a new `host` or `alternate_host` is an address outside the element networks (`host-not-allowed`)", body = ErrorBody),
        (status = 404, description = "No such element (`no-element`)", body = ErrorBody),
        (status = 409, description = "Another element of the same kind is at the new host and port (`same-address`, naming it)", body = ErrorBody),
    ))]
async fn patch_element(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    JsonBody(patch): JsonBody<ElementPatch>,
) -> Result<Json<ElementView>, ApiError> {
    Ok(Json(change(&s, &caller, &name, patch).await?))
}

/// Changes an element's settings as `PATCH /elements/{name}` does.
pub(crate) async fn change(
    s: &ApiState,
    caller: &Caller,
    name: &str,
    patch: ElementPatch,
) -> Result<ElementView, ApiError> {
    let store = s.store().as_ref();
    let current = element(store, name).await?;
    check_networks(
        s,
        patch.host.as_deref(),
        patch.alternate_host.as_ref().and_then(|a| a.as_deref()),
    )?;
    let cm_changed = patch.cm.is_some();
    let (draft, update) = patch.apply(&current)?;
    if cm_changed {
        check_cm(store, draft.settings.cm.as_deref()).await?;
    }
    if draft.host != current.host || draft.port != current.port {
        check_address(store, name, draft.kind, &draft.host, draft.port).await?;
    }
    let e = store.update_element(name, update).await?;
    s.runner.forget(name).await;
    tracing::info!(element = %name, by = %caller.name, "element changed");
    s.runner.publish(Event::Element {
        name: name.to_string(),
        change: "changed".into(),
    });
    view(store, &e).await
}

/// Removes an element and everything synchronized from it; its open
/// alarms are cleared. Refused while a job is queued or running on it, and
/// while another element names it as its CM.
#[utoipa::path(delete, path = "/elements/{name}", tag = "elements",
    params(("name" = String, Path, description = "The element's name")),
    responses(
        (status = 204, description = "Removed, with its data and default schedule"),
        (status = 404, description = "No such element (`no-element`)", body = ErrorBody),
        (status = 409, description = "A job is queued or running on it (`element-busy`), or another element depends on it (`element-in-use`)", body = ErrorBody),
    ))]
async fn delete_element(
    State(s): State<ApiState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    remove(&s, &caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Why the element cannot be removed now, if it cannot: a job queued or
/// running on it, or another element naming it as its CM.
pub(crate) async fn removable(s: &ApiState, e: &ucsync_store::Element) -> Result<(), ApiError> {
    let store = s.store().as_ref();
    let name = e.name.as_str();
    for state in [
        JobState::Waiting,
        JobState::Running,
        JobState::Stopping,
        JobState::Queued,
    ] {
        if let Some(job) = store.jobs(Some(name), Some(state), 0, 1).await?.first() {
            return Err(ApiError::new(
                ErrorCode::ElementBusy,
                format!(
                    "job {} is {} on '{name}': stop it (POST /api/v1/jobs/{}/stop) or wait for it to end, then remove the element",
                    job.id, job.state, job.id
                ),
            ));
        }
    }
    let dependents: Vec<String> = store
        .elements()
        .await?
        .into_iter()
        .filter(|d| d.settings.cm.as_deref() == Some(name))
        .map(|d| format!("'{}' ({})", d.name, d.kind))
        .collect();
    if !dependents.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ElementInUse,
            format!(
                "'{name}' is the cm of {}: remove those or point their cm elsewhere first",
                dependents.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Removes an element as `DELETE /elements/{name}` does.
pub(crate) async fn remove(s: &ApiState, caller: &Caller, name: &str) -> Result<(), ApiError> {
    let store = s.store().as_ref();
    let e = element(store, name).await?;
    removable(s, &e).await?;
    if !store.remove_element(name).await? {
        return Err(ApiError::no_element(name));
    }
    s.runner.forget(name).await;
    // Its conditions ended with it.
    s.runner
        .alarms()
        .clear(name, ucsync_core::AlarmCondition::ALL)
        .await;
    tracing::info!(element = %name, by = %caller.name, "element removed");
    s.runner.publish(Event::Element {
        name: name.to_string(),
        change: "removed".into(),
    });
    Ok(())
}

/// Connects to the element, logs in, and reports its version and host-key
/// fingerprint (the alternate host is tried when the host does not answer).
#[utoipa::path(post, path = "/elements/{name}/check", tag = "elements",
    params(("name" = String, Path, description = "The element's name")),
    responses(
        (status = 200, description = "The element answered and took the login", body = CheckView),
        (status = 400, description = "A bad path (`invalid-path`), or the element's host is, or resolves to, an address outside the element networks (`host-not-allowed`): nothing was sent", body = ErrorBody),
        (status = 404, description = "No such element (`no-element`)", body = ErrorBody),
        (status = 422, description = "This build cannot connect to elements of its kind (`element-refused`)", body = ErrorBody),
        (status = 502, description = "The element did not answer (`element-error`), refused the login (`element-login-failed`), or is not the one pinned: another SSH host key or TLS certificate than the pinned one (`host-key-mismatch`)", body = ErrorBody),
    ))]
async fn check_element(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<CheckView>, ApiError> {
    Ok(Json(check(&s, &name).await?))
}

/// Checks the connection to an element as `POST /elements/{name}/check` does.
pub(crate) async fn check(s: &ApiState, name: &str) -> Result<CheckView, ApiError> {
    let e = element(s.store().as_ref(), name).await?;
    let report = s.runner.check(&e).await?;
    let pinned = e
        .settings
        .host_key
        .as_ref()
        .map(|k| report.fingerprint.as_ref() == Some(k));
    Ok(CheckView {
        element: name.to_string(),
        version: report.version,
        fingerprint: report.fingerprint,
        host: report.host,
        pinned,
    })
}
