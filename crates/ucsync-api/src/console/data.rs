//! Data: the objects synchronized from each element, per type and paged
//! (secret fields never shown), one object with its change history across
//! jobs and notify events, and the search across elements.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ucsync_core::{ElementKind, ObjectId};

use super::rows::Pager;
use super::session::url_escape;
use super::{Frame, Operator, PageResult, fail, render, words};
use crate::model::{
    ElementView, HistoryEntryView, ObjectFilter, ObjectView, PageQuery, Paging, SearchHitView,
    SearchQuery,
};
use crate::routes::{elements, objects};
use crate::{ApiError, ApiState};

/// Objects of a page of objects at most, unless the query asks fewer.
const OBJECTS_SHOWN: u64 = 25;

/// The page asked for: 25 items unless the query says otherwise.
fn paging(q: PageQuery) -> Result<Paging, ApiError> {
    let limit = q.limit.unwrap_or(OBJECTS_SHOWN);
    PageQuery {
        limit: Some(limit),
        ..q
    }
    .parse()
    .map_err(ApiError::query)
}

/// The console's path of an object's page.
fn object_href(element: &str, object_type: &str, key: &str) -> String {
    format!(
        "/data/{}/{}/{}",
        url_escape(element),
        url_escape(object_type),
        url_escape(key)
    )
}

struct TypeCount {
    object_type: String,
    count: u64,
    href: String,
}

struct ElementData {
    name: String,
    href: String,
    kind: &'static str,
    objects: u64,
    types: Vec<TypeCount>,
}

fn types_of(e: &ElementView) -> Vec<TypeCount> {
    e.objects_by_type
        .iter()
        .map(|(t, &n)| TypeCount {
            object_type: t.clone(),
            count: n,
            href: format!("/data/{}?type={}", url_escape(&e.name), url_escape(t)),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "data.html")]
struct DataPage {
    frame: Frame,
    elements: Vec<ElementData>,
    pager: Pager,
}

/// `GET /data`: each element with its objects per type.
pub(crate) async fn elements(
    State(s): State<ApiState>,
    operator: Operator,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let fail = fail(&operator);
    let page = q.parse().map_err(|e| fail(ApiError::query(e).into()))?;
    let found = elements::element_page(&s, page)
        .await
        .map_err(|e| fail(e.into()))?;
    let page = DataPage {
        frame: Frame::new(&operator, "Data", "Data"),
        elements: found
            .items
            .iter()
            .map(|e| ElementData {
                name: e.name.clone(),
                href: format!("/data/{}", url_escape(&e.name)),
                kind: words::kind(e.kind),
                objects: e.objects,
                types: types_of(e),
            })
            .collect(),
        pager: Pager::new("/data?", page, found.items.len(), found.total),
    };
    Ok(render(&page))
}

/// An object as a row: its fields as the API shows them (secrets by name
/// only).
struct ObjectRow {
    key: String,
    href: String,
    fields: Vec<(String, String)>,
    secret_fields: Vec<String>,
    updated_at: String,
}

impl ObjectRow {
    fn new(element: &str, o: &ObjectView) -> ObjectRow {
        ObjectRow {
            key: o.key.clone(),
            href: object_href(element, &o.object_type, &o.key),
            fields: o
                .fields
                .iter()
                .map(|(f, v)| (f.clone(), v.clone()))
                .collect(),
            secret_fields: o.secret_fields.clone(),
            updated_at: words::time(&o.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "data_objects.html")]
struct ObjectsPage {
    frame: Frame,
    element: String,
    element_href: String,
    /// The page of every object of the type.
    type_href: String,
    types: Vec<TypeCount>,
    object_type: String,
    key: String,
    rows: Vec<ObjectRow>,
    pager: Pager,
}

/// `GET /data/{element}?type=T&key=K`: a page of the element's objects of
/// one type (its first type unless one is asked), or the one of a key.
pub(crate) async fn objects(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    operator: Operator,
    Query(q): Query<ObjectFilter>,
    Query(p): Query<PageQuery>,
) -> PageResult {
    let fail = fail(&operator);
    let page = paging(p).map_err(|e| fail(e.into()))?;
    let e = elements::element_view(&s, &name)
        .await
        .map_err(|e| fail(e.into()))?;
    let object_type = q
        .object_type
        .filter(|t| !t.trim().is_empty())
        .or_else(|| e.objects_by_type.keys().next().cloned())
        .unwrap_or_default();
    let key = q.key.map(|k| k.trim().to_string()).unwrap_or_default();
    let filter = ObjectFilter {
        object_type: Some(object_type.clone()),
        key: (!key.is_empty()).then(|| key.clone()),
    };
    let found = if object_type.is_empty() {
        Vec::new()
    } else {
        objects::object_page(&s, &name, filter, page)
            .await
            .map_err(|e| fail(e.into()))?
            .items
    };
    // Of a type, all are counted already; of a key, there is one at most.
    let total = if key.is_empty() {
        e.objects_by_type.get(&object_type).copied().or(Some(0))
    } else {
        Some(found.len() as u64)
    };
    let base = format!(
        "/data/{}?type={}&",
        url_escape(&name),
        url_escape(&object_type)
    );
    let page = ObjectsPage {
        frame: Frame::new(&operator, "Data", format!("Objects of {name}")),
        element_href: format!("/data/{}", url_escape(&name)),
        type_href: base.trim_end_matches('&').to_string(),
        types: types_of(&e),
        rows: found.iter().map(|o| ObjectRow::new(&name, o)).collect(),
        pager: Pager::new(&base, page, found.len(), total),
        element: name,
        object_type,
        key,
    };
    Ok(render(&page))
}

/// A change of an object's history as a row.
struct HistoryRow {
    at: String,
    at_element: String,
    by_login: String,
    op: &'static str,
    job: Option<i64>,
    /// Outside a job: notify sync, or a change made through ucsync. Notify
    /// sync ignores the element's events of its own logins, so a change
    /// outside a job by one of them is ucsync's own.
    outside: &'static str,
}

impl HistoryRow {
    fn new(h: &HistoryEntryView, own_logins: &[String]) -> HistoryRow {
        HistoryRow {
            at: words::time(&h.at),
            at_element: h.at_element.clone().unwrap_or_default(),
            by_login: h.by_login.clone().unwrap_or_default(),
            op: words::op(&h.op),
            job: h.job,
            outside: if h
                .by_login
                .as_deref()
                .is_some_and(|l| own_logins.iter().any(|o| o.eq_ignore_ascii_case(l)))
            {
                "Changed through ucsync"
            } else {
                "Notify sync"
            },
        }
    }
}

/// What a CM object's field is to ucsync, as the catalogue in effect says:
/// its type's key (and what the key is), the field shown as its name, a
/// secret, or nothing known (a CM's fields are ids, as OSSI names them).
fn field_role(cm: Option<&ucsync_connect::cm::catalog::CmType>, field: &str) -> String {
    let Some(t) = cm else {
        return String::new();
    };
    if t.key.is_some_and(|k| k.to_string() == field) {
        match t.key_kind {
            Some(k) => format!("key ({})", k.as_str()),
            None => "key".into(),
        }
    } else if t.name.is_some_and(|n| n.to_string() == field) {
        "name".into()
    } else if t.secret.iter().any(|f| f.to_string() == field) {
        // Shown only when empty: a secret with a value is stored encrypted
        // and never shown.
        "secret".into()
    } else {
        String::new()
    }
}

#[derive(Template)]
#[template(path = "data_object.html")]
struct ObjectPage {
    frame: Frame,
    element: String,
    element_href: String,
    object_type: String,
    key: String,
    /// `None`: not stored (removed, or never synchronized).
    object: Option<ObjectRow>,
    /// What each of its fields is, by field, where the catalogue says.
    roles: std::collections::BTreeMap<String, String>,
    history: Vec<HistoryRow>,
    pager: Pager,
}

/// `GET /data/{element}/{type}/{key}`: the object's fields and its history
/// (read through `GET /api/v1/elements/{name}/objects/{type}/{key}/history`'s
/// own function).
pub(crate) async fn object(
    State(s): State<ApiState>,
    Path((name, object_type, key)): Path<(String, String, String)>,
    operator: Operator,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let fail = fail(&operator);
    let page = paging(q).map_err(|e| fail(e.into()))?;
    let e = elements::element_view(&s, &name)
        .await
        .map_err(|e| fail(e.into()))?;
    let filter = ObjectFilter {
        object_type: Some(object_type.clone()),
        key: Some(key.clone()),
    };
    let one = Paging {
        offset: 0,
        limit: 1,
    };
    let stored = objects::object_page(&s, &name, filter, one)
        .await
        .map_err(|e| fail(e.into()))?;
    let id = ObjectId::new(object_type.clone(), key.clone());
    let history = objects::history_page(&s, &name, &id, page)
        .await
        .map_err(|e| fail(e.into()))?;
    let href = object_href(&name, &object_type, &key);
    let object = stored.items.first().map(|o| ObjectRow::new(&name, o));
    let catalogs = s.runner.catalogs();
    let cm = (e.kind == ElementKind::Cm)
        .then(|| {
            catalogs
                .cm
                .types
                .iter()
                .find(|t| t.object_type == object_type)
        })
        .flatten();
    let roles = object
        .iter()
        .flat_map(|o| o.fields.iter().map(|(f, _)| f))
        .map(|f| (f.clone(), field_role(cm, f)))
        .filter(|(_, role)| !role.is_empty())
        .collect();
    let page = ObjectPage {
        frame: Frame::new(&operator, "Data", format!("{object_type} {key} on {name}")),
        element_href: format!(
            "/data/{}?type={}",
            url_escape(&name),
            url_escape(&object_type)
        ),
        object,
        roles,
        history: history
            .items
            .iter()
            .map(|h| HistoryRow::new(h, &e.settings.own_logins))
            .collect(),
        pager: Pager::new(
            &format!("{href}?"),
            page,
            history.items.len(),
            history.total,
        ),
        element: name,
        object_type,
        key,
    };
    Ok(render(&page))
}

struct HitRow {
    element: String,
    object_type: String,
    key: String,
    name: String,
    href: String,
    updated_at: String,
}

impl From<&SearchHitView> for HitRow {
    fn from(h: &SearchHitView) -> HitRow {
        HitRow {
            element: h.element.clone(),
            object_type: h.object_type.clone(),
            key: h.key.clone(),
            name: h.name.clone().unwrap_or_default(),
            href: object_href(&h.element, &h.object_type, &h.key),
            updated_at: words::time(&h.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    frame: Frame,
    error: Option<String>,
    hits: Vec<HitRow>,
    pager: Pager,
}

/// `GET /search?q=TEXT`: objects across elements whose key or name starts
/// with the text, as `GET /api/v1/search` finds them.
pub(crate) async fn search(
    State(s): State<ApiState>,
    operator: Operator,
    Query(q): Query<SearchQuery>,
    Query(p): Query<PageQuery>,
) -> PageResult {
    let fail = fail(&operator);
    let page = paging(p).map_err(|e| fail(e.into()))?;
    let mut frame = Frame::new(&operator, "", "Search");
    frame.q = q.q.clone().unwrap_or_default();
    let text = match q.parse() {
        Ok(text) => text,
        Err(e) => {
            let p = SearchPage {
                frame,
                error: Some(e.message),
                hits: Vec::new(),
                pager: Pager::new("/search?", page, 0, Some(0)),
            };
            return Err((StatusCode::BAD_REQUEST, render(&p)).into_response());
        }
    };
    let found = objects::search_page(&s, &text, page)
        .await
        .map_err(|e| fail(e.into()))?;
    let base = format!("/search?q={}&", url_escape(&text));
    let p = SearchPage {
        frame,
        error: None,
        hits: found.items.iter().map(HitRow::from).collect(),
        pager: Pager::new(&base, page, found.items.len(), found.total),
    };
    Ok(render(&p))
}
