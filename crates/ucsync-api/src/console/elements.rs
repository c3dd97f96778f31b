//! Manage Elements: the elements with a filter and paging, an element's
//! page, adding one of a kind through its form, and the CSV export. Every
//! page reads and every form acts through `routes::elements`, as the API.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use ucsync_core::{ElementKind, ElementState};

use super::element_form::{self, Field, Values};
use super::form::FormErrors;
use super::rows::{ElementRow, JobRow};
use super::{Action, Failure, Frame, Operator, PageResult, fail, render, words};
use crate::extract::parse_value;
use crate::model::{
    ElementView, JobView, MAX_OFFSET, NewElementBody, PageQuery, Paging, export_row, write_csv,
};
use crate::routes::elements::{self, ElementFilter};
use crate::{ApiError, ApiState};

/// Jobs an element's page shows, newest first.
const LAST_JOBS: u64 = 10;

/// The query of the list: what the filter form and the paging links send.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

/// A query value, empty counting as not given.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A number of the paging links, named in the refusal.
fn number(field: &str, v: &Option<String>) -> Result<Option<u64>, Failure> {
    given(v)
        .map(|n| {
            n.parse::<u64>().map_err(|_| {
                Failure::bad_request(format!("{field} must be a whole number, not {n:?}"))
            })
        })
        .transpose()
}

impl ListQuery {
    fn parse(&self) -> Result<(ElementFilter, Paging), Failure> {
        let filter = ElementFilter {
            text: given(&self.q).map(str::to_string),
            kind: given(&self.kind)
                .map(str::parse)
                .transpose()
                .map_err(Failure::bad_request)?,
            state: given(&self.state)
                .map(str::parse)
                .transpose()
                .map_err(Failure::bad_request)?,
        };
        let page = PageQuery {
            offset: number("offset", &self.offset)?,
            limit: number("limit", &self.limit)?,
        }
        .parse()
        .map_err(|e| Failure::from(ApiError::query(e)))?;
        Ok((filter, page))
    }

    /// This list's path with another offset.
    fn at(&self, offset: u64, limit: u64) -> String {
        let mut q: Vec<(&str, String)> = Vec::new();
        for (k, v) in [("q", &self.q), ("kind", &self.kind), ("state", &self.state)] {
            if let Some(v) = given(v) {
                q.push((k, v.to_string()));
            }
        }
        q.push(("offset", offset.to_string()));
        q.push(("limit", limit.to_string()));
        format!(
            "/elements?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    }
}

/// A choice of a select: its value, its words, whether it is chosen.
pub(crate) struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "elements.html")]
struct ListPage {
    frame: Frame,
    rows: Vec<ElementRow>,
    q: String,
    kinds: Vec<Choice>,
    states: Vec<Choice>,
    /// Which of how many are shown: `1–50 of 120`.
    shown: String,
    filtered: bool,
    previous: Option<String>,
    next: Option<String>,
}

/// The kinds, each with its words, `chosen` marked.
fn kind_choices(chosen: Option<ElementKind>) -> Vec<Choice> {
    ElementKind::ALL
        .iter()
        .map(|&k| Choice {
            value: k.as_str(),
            label: words::kind(k),
            selected: chosen == Some(k),
        })
        .collect()
}

/// `GET /elements`.
pub(crate) async fn list(
    State(s): State<ApiState>,
    operator: Operator,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let fail = fail(&operator);
    let query: ListQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).map_err(|e| {
            fail(Failure::bad_request(format!(
                "the query cannot be read: {e}"
            )))
        })?;
    let (filter, page) = query.parse().map_err(&fail)?;
    let found = elements::element_page_where(&s, &filter, page)
        .await
        .map_err(|e| fail(e.into()))?;
    let total = found.total.unwrap_or_default();
    let count = found.items.len() as u64;
    let shown = if count == 0 {
        format!("0 of {total}")
    } else {
        format!("{}–{} of {total}", page.offset + 1, page.offset + count)
    };
    let page_view = ListPage {
        frame: Frame::new(&operator, "Elements", "Elements"),
        rows: found.items.iter().map(ElementRow::from).collect(),
        q: given(&query.q).unwrap_or_default().to_string(),
        kinds: kind_choices(filter.kind),
        states: ElementState::ALL
            .iter()
            .map(|&st| Choice {
                value: st.as_str(),
                label: words::element_state(st),
                selected: filter.state == Some(st),
            })
            .collect(),
        shown,
        filtered: filter != ElementFilter::default(),
        previous: (page.offset > 0)
            .then(|| query.at(page.offset.saturating_sub(page.limit), page.limit)),
        next: (page.offset + count < total).then(|| query.at(page.offset + count, page.limit)),
    };
    Ok(render(&page_view))
}

/// A setting or a fact of an element's page: its words and value, and the
/// page it links to.
pub(crate) struct Fact {
    pub label: &'static str,
    pub value: String,
    pub href: Option<String>,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact {
        label,
        value: value.into(),
        href: None,
    }
}

fn opt_time(t: Option<&str>) -> String {
    t.map_or_else(|| "never".to_string(), words::time)
}

/// An element's settings as its page shows them (never its password).
fn settings(e: &ElementView) -> Vec<Fact> {
    let s = &e.settings;
    let mut v = vec![
        fact("Kind", words::kind(e.kind)),
        fact("Host", e.host.clone()),
        fact(
            "Alternate host",
            e.alternate_host.clone().unwrap_or_else(|| "none".into()),
        ),
        fact("Port", e.port.to_string()),
        fact("Login", e.login.clone()),
    ];
    if e.kind == ElementKind::Cm {
        v.push(fact("Notify sync", words::yes_no(s.notify_sync)));
        v.push(fact("Own logins", s.own_logins.join(", ")));
    } else {
        let tls = match s.tls {
            Some(true) => "yes".to_string(),
            _ => "no: the password crosses the network in the clear".to_string(),
        };
        v.push(fact("TLS", tls));
        v.push(fact(
            "CA file",
            s.ca_file.clone().unwrap_or_else(|| "none".into()),
        ));
    }
    v.push(fact(
        if e.kind == ElementKind::Cm {
            "SSH host key"
        } else {
            "Certificate fingerprint"
        },
        s.host_key
            .clone()
            .unwrap_or_else(|| "none pinned yet: pinned at the next connection".into()),
    ));
    if let Some(cm) = &s.cm {
        v.push(Fact {
            label: "Communication Manager",
            value: cm.clone(),
            href: Some(format!("/elements/{cm}")),
        });
    }
    v.push(fact("Added", words::time(&e.created_at)));
    v
}

/// Where an element's synchronization stands.
fn status(e: &ElementView) -> Vec<Fact> {
    let sync = &e.sync;
    let init = match (sync.last_init_at.as_deref(), sync.last_init_ok) {
        (None, _) => "never".to_string(),
        (Some(t), Some(false)) => format!(
            "{} — failed: {}",
            words::time(t),
            sync.last_init_error.clone().unwrap_or_default()
        ),
        (Some(t), _) => format!("{} — passed", words::time(t)),
    };
    let mut v = vec![
        fact("Last initializing sync", init),
        fact(
            "Version",
            sync.version
                .clone()
                .unwrap_or_else(|| "not known yet".into()),
        ),
        fact("Last sync", opt_time(sync.last_sync_at.as_deref())),
        fact("Last success", opt_time(sync.last_success_at.as_deref())),
    ];
    if e.kind == ElementKind::Cm {
        v.push(fact(
            "Last notify event",
            opt_time(sync.last_notify_at.as_deref()),
        ));
    }
    if let Some(j) = &sync.last_job {
        let mut value = format!(
            "job {}: {}, {}",
            j.id,
            words::sync_type(j.sync_type),
            words::job_state(j.state)
        );
        if let Some(err) = &j.error {
            value.push_str(&format!(" — {err}"));
        }
        v.push(Fact {
            label: "Last job",
            value,
            href: Some(format!("/jobs/{}", j.id)),
        });
    }
    v
}

#[derive(Template)]
#[template(path = "element.html")]
struct ElementPage {
    frame: Frame,
    row: ElementRow,
    settings: Vec<Fact>,
    status: Vec<Fact>,
    objects: Vec<(String, u64)>,
    total: u64,
    jobs: Vec<JobRow>,
}

async fn element_page(
    s: &ApiState,
    operator: &Operator,
    name: &str,
) -> Result<ElementPage, ApiError> {
    let e = elements::element_view(s, name).await?;
    let jobs = s
        .store()
        .jobs(Some(name), None, 0, LAST_JOBS)
        .await?
        .into_iter()
        .map(|j| JobRow::from(&JobView::from(j)))
        .collect();
    Ok(ElementPage {
        frame: Frame::new(operator, "Elements", format!("Element {name}")),
        row: ElementRow::from(&e),
        settings: settings(&e),
        status: status(&e),
        objects: e
            .objects_by_type
            .iter()
            .map(|(t, n)| (t.clone(), *n))
            .collect(),
        total: e.objects,
        jobs,
    })
}

/// `GET /elements/{name}`.
pub(crate) async fn page(
    State(s): State<ApiState>,
    operator: Operator,
    Path(name): Path<String>,
) -> PageResult {
    let page = element_page(&s, &operator, &name)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "element_form.html")]
pub(crate) struct FormPage {
    pub frame: Frame,
    pub action: String,
    pub kind: &'static str,
    pub kind_words: &'static str,
    pub fields: Vec<Field>,
    pub errors: FormErrors,
    pub submit: &'static str,
    pub back: String,
}

/// The form of a new element of `kind`, with `error` beside its field.
fn new_form(
    operator: &Operator,
    kind: ElementKind,
    values: &Values,
    error: Option<&ApiError>,
) -> FormPage {
    let (fields, errors) = element_form::inputs(kind, true, values, error);
    FormPage {
        frame: Frame::new(
            operator,
            "Elements",
            format!("New {} element", words::kind(kind)),
        ),
        action: "/elements".into(),
        kind: kind.as_str(),
        kind_words: words::kind(kind),
        fields,
        errors,
        submit: "Add",
        back: "/elements".into(),
    }
}

/// The kind a form is for, or a 400 page naming the kinds.
fn kind_of(v: Option<&str>) -> Result<ElementKind, Failure> {
    v.unwrap_or_default().parse().map_err(Failure::bad_request)
}

#[derive(Deserialize)]
pub(crate) struct KindQuery {
    kind: Option<String>,
}

/// `GET /elements/new?kind=cm`: the form of a new element of the kind.
pub(crate) async fn new(
    operator: Operator,
    axum::extract::Query(q): axum::extract::Query<KindQuery>,
) -> PageResult {
    let fail = fail(&operator);
    operator.require_admin().map_err(&fail)?;
    let kind = kind_of(q.kind.as_deref()).map_err(&fail)?;
    Ok(render(&new_form(
        &operator,
        kind,
        &element_form::new_values(kind),
        None,
    )))
}

/// `POST /elements`: adds the element as `POST /api/v1/elements` does; a
/// refusal shows the form again, the error beside its field.
pub(crate) async fn add(
    State(s): State<ApiState>,
    Action { operator, form }: Action<Values>,
) -> PageResult {
    let kind = kind_of(form.get("kind").map(String::as_str)).map_err(fail(&operator))?;
    let body = element_form::new_body(kind, &form);
    let added = match parse_value::<NewElementBody>(body) {
        Ok(body) => elements::add(&s, &operator.caller(), body).await,
        Err(e) => Err(e),
    };
    match added {
        Ok(created) => {
            Ok(Redirect::to(&format!("/elements/{}", created.element.name)).into_response())
        }
        Err(e) if e.status().is_client_error() => {
            let page = new_form(&operator, kind, &form, Some(&e));
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(fail(&operator)(e.into())),
    }
}

/// `GET /elements/export.csv`: every element as `ucsync element export`
/// writes it (no passwords), for `ucsync element import` or the import page.
pub(crate) async fn export(State(s): State<ApiState>, operator: Operator) -> PageResult {
    let fail = fail(&operator);
    let all = Paging {
        offset: 0,
        limit: MAX_OFFSET,
    };
    let items = elements::element_page(&s, all)
        .await
        .map_err(|e| fail(e.into()))?
        .items;
    let rows: Vec<_> = items.iter().map(export_row).collect();
    let text = write_csv(&rows)
        .map_err(|e| fail(ApiError::internal(format!("cannot write CSV: {e}")).into()))?;
    Ok(csv_response(text))
}

fn csv_response(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"elements.csv\"",
            ),
        ],
        text,
    )
        .into_response()
}
