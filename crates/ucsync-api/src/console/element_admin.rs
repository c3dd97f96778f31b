//! An element's administration: changing its settings, removing it after
//! a confirmation page, checking the connection to it and accepting the
//! key or certificate it shows — each through `routes::elements`, under
//! the API's rules.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::element_form::{self, Values};
use super::elements::FormPage;
use super::form::ConfirmPage;
use super::{Action, Frame, Operator, PageResult, fail, render, words};
use crate::extract::parse_value;
use crate::model::{CheckView, ElementPatch, ElementView, ErrorCode};
use crate::routes::{element, elements};
use crate::{ApiError, ApiState};

/// The form of an element's settings holding `values`.
fn edit_form(
    operator: &Operator,
    e: &ElementView,
    values: &Values,
    error: Option<&ApiError>,
) -> FormPage {
    let (fields, errors) = element_form::inputs(e.kind, false, values, error);
    FormPage {
        frame: Frame::new(operator, "Elements", format!("Change {}", e.name)),
        action: format!("/elements/{}/edit", e.name),
        kind: e.kind.as_str(),
        kind_words: words::kind(e.kind),
        fields,
        errors,
        submit: "Save",
        back: format!("/elements/{}", e.name),
    }
}

/// `GET /elements/{name}/edit`.
pub(crate) async fn edit_page(
    State(s): State<ApiState>,
    operator: Operator,
    Path(name): Path<String>,
) -> PageResult {
    let fail = fail(&operator);
    operator.require_admin().map_err(&fail)?;
    let e = elements::element_view(&s, &name)
        .await
        .map_err(|e| fail(e.into()))?;
    let values = element_form::current_values(&e);
    Ok(render(&edit_form(&operator, &e, &values, None)))
}

/// `POST /elements/{name}/edit`: the fields changed, as `PATCH
/// /api/v1/elements/{name}` changes them (a new host, port or TLS setting
/// needs the password again).
pub(crate) async fn edit(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Action { operator, form }: Action<Values>,
) -> PageResult {
    let e = elements::element_view(&s, &name)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    let changed = match parse_value::<ElementPatch>(element_form::patch_body(&e, &form)) {
        Ok(patch) => elements::change(&s, &operator.caller(), &name, patch).await,
        Err(err) => Err(err),
    };
    match changed {
        Ok(_) => Ok(Redirect::to(&format!("/elements/{name}")).into_response()),
        Err(err) if err.status().is_client_error() && err.code != ErrorCode::NoElement => {
            let page = edit_form(&operator, &e, &form, Some(&err));
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(err) => Err(fail(&operator)(err.into())),
    }
}

/// `GET /elements/{name}/remove`: what removing it deletes, and the
/// button; or why it cannot be removed now.
pub(crate) async fn remove_page(
    State(s): State<ApiState>,
    operator: Operator,
    Path(name): Path<String>,
) -> PageResult {
    let fail = fail(&operator);
    operator.require_admin().map_err(&fail)?;
    let stored = element(s.store().as_ref(), &name)
        .await
        .map_err(|e| fail(e.into()))?;
    let view = elements::element_view(&s, &name)
        .await
        .map_err(|e| fail(e.into()))?;
    elements::removable(&s, &stored)
        .await
        .map_err(|e| fail(e.into()))?;
    let total = view.objects;
    Ok(render(&ConfirmPage {
        frame: Frame::new(&operator, "Elements", format!("Remove {name}")),
        question: format!("Remove {name}?"),
        detail: format!(
            "Removing it deletes its settings and the {total} objects synchronized from it, \
             with its default schedule; its alarms are cleared. The element itself is not changed."
        ),
        deleted: view.objects_by_type.into_iter().collect(),
        action: format!("/elements/{name}/remove"),
        button: format!("Remove {name} and its {total} objects"),
        back: format!("/elements/{name}"),
    }))
}

/// The form of a button alone: its token.
#[derive(Debug, Deserialize)]
pub(crate) struct Button {}

/// `POST /elements/{name}/remove`: removes it as `DELETE
/// /api/v1/elements/{name}` does.
pub(crate) async fn remove(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Action { operator, .. }: Action<Button>,
) -> PageResult {
    elements::remove(&s, &operator.caller(), &name)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(Redirect::to("/elements").into_response())
}

#[derive(Template)]
#[template(path = "element_check.html")]
struct CheckPage {
    frame: Frame,
    name: String,
    check: Option<CheckView>,
    /// Whether the key or certificate it showed is the pinned one, in words.
    pinned: &'static str,
    /// Why the check failed (the API's words).
    error: Option<String>,
    /// The element showed another key than the pinned one.
    mismatch: bool,
    is_cm: bool,
}

/// `POST /elements/{name}/check`: connects and logs in as `POST
/// /api/v1/elements/{name}/check` does, and shows what it found.
pub(crate) async fn check(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Action { operator, .. }: Action<Button>,
) -> PageResult {
    let fail = fail(&operator);
    let e = elements::element_view(&s, &name)
        .await
        .map_err(|e| fail(e.into()))?;
    let result = elements::check(&s, &name).await;
    let status = result
        .as_ref()
        .err()
        .map_or(StatusCode::OK, ApiError::status);
    let pinned = match result
        .as_ref()
        .ok()
        .map(|c| (c.fingerprint.is_some(), c.pinned))
    {
        Some((false, _)) => "it showed none",
        Some((true, Some(true))) => "the pinned one",
        Some((true, Some(false))) => "not the pinned one",
        Some((true, None)) => "none is pinned yet",
        None => "",
    };
    let (check, error) = match result {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e)),
    };
    let page = CheckPage {
        frame: Frame::new(&operator, "Elements", format!("Connection to {name}")),
        mismatch: error
            .as_ref()
            .is_some_and(|e| e.code == ErrorCode::HostKeyMismatch),
        error: error.map(|e| e.message),
        check,
        pinned,
        is_cm: e.kind == ucsync_core::ElementKind::Cm,
        name,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct Accept {
    fingerprint: String,
}

/// `POST /elements/{name}/accept`: pins the key or certificate the element
/// showed, as `PATCH /api/v1/elements/{name}` with `host_key` does.
pub(crate) async fn accept(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Action { operator, form }: Action<Accept>,
) -> PageResult {
    let patch = ElementPatch {
        host_key: Some(Some(form.fingerprint.trim().to_string())),
        ..ElementPatch::default()
    };
    elements::change(&s, &operator.caller(), &name, patch)
        .await
        .map_err(|e| fail(&operator)(e.into()))?;
    Ok(Redirect::to(&format!("/elements/{name}")).into_response())
}
