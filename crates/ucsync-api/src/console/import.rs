//! Bulk import: a CSV file uploaded, read as `ucsync element import` reads
//! it (`model::read_csv`), checked by a dry run of the API's import — each
//! row: would add, or why not — and then, on the preview's button, that
//! same file imported, all of it or nothing. The file waits in the
//! database between the two (`Store::keep_import_preview`), for its session
//! only and for a few minutes, so any node may take the confirmation.

use std::time::Duration;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use super::form::FormErrors;
use super::session::new_secret;
use super::{Action, Failure, Frame, Operator, PageResult, fail, render};
use crate::model::{
    FileRow, ImportBody, ImportOutcome, ImportReport, MAX_IMPORT_ROWS, fill_port, has_password,
    read_csv,
};
use crate::routes::import::import;
use crate::{ApiError, ApiState};

/// How long a previewed file waits for its import.
const LIFETIME: Duration = Duration::from_secs(10 * 60);

#[derive(Template)]
#[template(path = "element_import.html")]
struct UploadPage {
    frame: Frame,
    errors: FormErrors,
}

fn upload_page(operator: &Operator, errors: FormErrors) -> UploadPage {
    UploadPage {
        frame: Frame::new(operator, "Elements", "Import elements"),
        errors,
    }
}

/// `GET /elements/import`.
pub(crate) async fn form(operator: Operator) -> PageResult {
    operator.require_admin().map_err(fail(&operator))?;
    Ok(render(&upload_page(&operator, FormErrors::default())))
}

/// A row of the preview.
struct PreviewRow {
    line: u64,
    name: String,
    result: String,
    field: String,
    why: String,
    bad: bool,
    job: Option<i64>,
}

#[derive(Template)]
#[template(path = "element_preview.html")]
struct PreviewPage {
    frame: Frame,
    file: String,
    rows: Vec<PreviewRow>,
    invalid: u64,
    /// The id of the file kept for its import, when every row is good.
    id: Option<String>,
    /// The API's words for a refused import.
    error: Option<String>,
}

fn preview_rows(rows: &[FileRow], report: &ImportReport) -> Vec<PreviewRow> {
    report
        .rows
        .iter()
        .map(|r| {
            let line = usize::try_from(r.row)
                .ok()
                .and_then(|i| rows.get(i.wrapping_sub(1)))
                .map_or(r.row, |f| f.line);
            let (result, field, why) = match (r.outcome, &r.error) {
                (ImportOutcome::WouldAdd, _) => ("would add".into(), String::new(), String::new()),
                (ImportOutcome::Added, _) => ("added".into(), String::new(), String::new()),
                (ImportOutcome::Invalid, e) => (
                    format!("error: {}", e.as_ref().map_or("", |e| e.code.as_str())),
                    e.as_ref().and_then(|e| e.field.clone()).unwrap_or_default(),
                    e.as_ref().map(|e| e.message.clone()).unwrap_or_default(),
                ),
            };
            PreviewRow {
                line,
                name: r.name.clone().unwrap_or_default(),
                bad: r.outcome == ImportOutcome::Invalid,
                result,
                field,
                why,
                job: r.job.as_ref().map(|j| j.id),
            }
        })
        .collect()
}

fn body(rows: &[FileRow], dry_run: bool) -> ImportBody {
    ImportBody {
        elements: rows
            .iter()
            .map(|r| Value::Object(r.fields.clone()))
            .collect(),
        dry_run,
    }
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    csrf: Option<String>,
    name: String,
    file: Option<String>,
    password: String,
}

async fn read_upload(mut m: Multipart) -> Result<Upload, Failure> {
    let mut u = Upload::default();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        Failure::bad_request(format!("the form cannot be read: {}", e.body_text()))
    };
    while let Some(field) = m.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "csrf" => u.csrf = Some(field.text().await.map_err(unreadable)?),
            "password" => u.password = field.text().await.map_err(unreadable)?,
            "file" => {
                u.name = field.file_name().unwrap_or("the file").to_string();
                let bytes = field.bytes().await.map_err(unreadable)?;
                u.file = Some(String::from_utf8(bytes.to_vec()).map_err(|_| {
                    Failure::bad_request("the file is not UTF-8 text: save it as UTF-8 CSV")
                })?);
            }
            _ => {}
        }
    }
    Ok(u)
}

/// `POST /elements/import`: the uploaded file's preview, from a dry run of
/// the API's import. A password given on the form goes to every row that
/// has none.
pub(crate) async fn preview(
    State(s): State<ApiState>,
    operator: Operator,
    multipart: Multipart,
) -> PageResult {
    let fail = fail(&operator);
    operator.require_admin().map_err(&fail)?;
    let upload = read_upload(multipart).await.map_err(&fail)?;
    operator.check_csrf(upload.csrf.as_deref()).map_err(&fail)?;
    let again = |error: String, file: bool| -> Response {
        let page = upload_page(&operator, FormErrors::one(file.then_some("file"), error));
        (StatusCode::BAD_REQUEST, render(&page)).into_response()
    };
    let Some(text) = upload.file.filter(|t| !t.trim().is_empty()) else {
        return Ok(again("choose a CSV file to import".into(), true));
    };
    let mut rows = match read_csv(&text) {
        Ok(rows) => rows,
        Err(e) => return Ok(again(format!("{}: {e}", upload.name), true)),
    };
    if rows.is_empty() {
        return Ok(again(format!("{}: no rows", upload.name), true));
    }
    if rows.len() > MAX_IMPORT_ROWS {
        return Ok(again(
            format!(
                "{}: {} rows; one import takes at most {MAX_IMPORT_ROWS}: split the file",
                upload.name,
                rows.len()
            ),
            true,
        ));
    }
    for r in &mut rows {
        fill_port(&mut r.fields);
        if !has_password(&r.fields) && !upload.password.is_empty() {
            r.fields
                .insert("password".into(), Value::String(upload.password.clone()));
        }
    }
    let (status, report) = match import(&s, &operator.caller(), body(&rows, true)).await {
        Ok(r) => r,
        Err(e) if e.status().is_client_error() => return Ok(again(e.message, false)),
        Err(e) => return Err(fail(e.into())),
    };
    let id = if status.is_success() {
        let id = new_secret();
        let kept = serde_json::to_string(&rows).map_err(|e| fail(ApiError::internal(e).into()))?;
        s.store()
            .keep_import_preview(&id, &operator.secret_hash, &upload.name, &kept, LIFETIME)
            .await
            .map_err(|e| fail(ApiError::from(e).into()))?;
        Some(id)
    } else {
        None
    };
    let page = PreviewPage {
        frame: Frame::new(&operator, "Elements", "Import elements: preview"),
        file: upload.name,
        rows: preview_rows(&rows, &report),
        invalid: report.invalid,
        id,
        error: report.error.map(|e| e.message),
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct Confirm {
    id: String,
}

/// `POST /elements/import/confirm`: imports the file previewed, all its
/// rows or none, as `POST /api/v1/import` does.
pub(crate) async fn confirm(
    State(s): State<ApiState>,
    Action { operator, form }: Action<Confirm>,
) -> PageResult {
    let fail = fail(&operator);
    let taken = s
        .store()
        .take_import_preview(&form.id, &operator.secret_hash, LIFETIME)
        .await
        .map_err(|e| fail(ApiError::from(e).into()))?;
    let Some((file, rows)) = taken else {
        return Err(fail(Failure {
            status: StatusCode::NOT_FOUND,
            message: "this preview is no longer kept (ten minutes, once): upload the file again"
                .into(),
        }));
    };
    let rows: Vec<FileRow> =
        serde_json::from_str(&rows).map_err(|e| fail(ApiError::internal(e).into()))?;
    let (status, report) = import(&s, &operator.caller(), body(&rows, false))
        .await
        .map_err(|e: ApiError| fail(e.into()))?;
    if status.is_success() {
        return Ok(Redirect::to("/elements").into_response());
    }
    // Rows that became bad since the preview: nothing was added.
    let page = PreviewPage {
        frame: Frame::new(&operator, "Elements", "Import elements: refused"),
        file,
        rows: preview_rows(&rows, &report),
        invalid: report.invalid,
        id: None,
        error: report.error.map(|e| e.message),
    };
    Ok((status, render(&page)).into_response())
}
