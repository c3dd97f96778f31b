//! `/import`: many elements added at once, all or none. Every row is parsed
//! and checked as `POST /elements` checks its body — the same parser, the
//! same element-network, address and `cm` rules — against the elements
//! stored and the rows before it, before anything is added.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ucsync_core::ElementKind;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::elements::{added, check_networks, cm_is_a_cm, same_address};
use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{JsonBody, parse_value};
use crate::model::{
    ErrorCode, FieldError, ImportBody, ImportOutcome, ImportRefusedSchema, ImportReport, ImportRow,
    MAX_IMPORT_ROWS, NewElementBody,
};

pub(crate) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(import_elements))
}

/// An address as elements are told apart by it: kind, host (any case), port.
type Address = (ElementKind, String, u16);

fn address(kind: ElementKind, host: &str, port: u16) -> Address {
    (kind, host.to_ascii_lowercase(), port)
}

/// One row parsed and checked on its own: the element, or why not.
fn parse_row(s: &ApiState, row: serde_json::Value) -> Result<ucsync_store::NewElement, ApiError> {
    let new = parse_value::<NewElementBody>(row)?.parse()?;
    check_networks(s, Some(&new.host), new.alternate_host.as_deref())?;
    Ok(new)
}

/// Adds elements together: every row is checked first, as `POST /elements`
/// checks its body, and against the elements stored and the rows before
/// it (a name or an address taken twice is a bad row); a `cm` may name a
/// CM of the same import. With one bad row nothing is added, and the
/// answer names every bad row with its field. Then each `cm` and
/// `ip-office` element added gets its initializing sync queued, which runs
/// with a place in the init pool.
#[utoipa::path(post, path = "/import", tag = "elements", request_body = ImportBody,
    responses(
        (status = 200, description = "A dry run: every row is good; nothing was added", body = ImportReport),
        (status = 201, description = "Every row added, and the inits queued", body = ImportReport),
        (status = 400, description = "A bad row (`invalid-rows`: the report names each, with its code and field; nothing was added), no rows or more than 10,000 (`invalid-field`, naming `elements`), or a body that is not an import (`invalid-json`, `invalid-field`, `invalid-body`)", body = ImportRefusedSchema),
        (status = 409, description = "An element of a row's name was added meanwhile (`element-exists`): nothing was added", body = crate::model::ErrorBody),
    ))]
async fn import_elements(
    State(s): State<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<ImportBody>,
) -> Result<Response, ApiError> {
    let (status, report) = import(&s, &caller, body).await?;
    Ok((status, Json(report)).into_response())
}

/// Checks every row, then adds all of them or none, as `POST /import`
/// does: the report with `400` for bad rows (nothing added), `200` for a
/// dry run, `201` when every row was added.
pub(crate) async fn import(
    s: &ApiState,
    caller: &Caller,
    body: ImportBody,
) -> Result<(StatusCode, ImportReport), ApiError> {
    let total = body.elements.len();
    if total == 0 {
        return Err(
            FieldError::new("elements", "elements is empty: give at least one element").into(),
        );
    }
    if total > MAX_IMPORT_ROWS {
        return Err(FieldError::new(
            "elements",
            format!("{total} elements: one import takes at most {MAX_IMPORT_ROWS}; split them"),
        )
        .into());
    }
    let store = s.store().as_ref();
    let stored = store.elements().await?;
    let kinds: HashMap<String, ElementKind> = stored
        .iter()
        .map(|e| (e.name.to_string(), e.kind))
        .collect();
    let mut taken: HashMap<Address, String> = stored
        .iter()
        .map(|e| (address(e.kind, &e.host, e.port), e.name.to_string()))
        .collect();
    let names: Vec<Option<String>> = body
        .elements
        .iter()
        .map(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    let parsed: Vec<Result<ucsync_store::NewElement, ApiError>> =
        body.elements.into_iter().map(|v| parse_row(s, v)).collect();
    // A `cm` may name a CM of the import, before or after the row.
    let mut rows_kinds: HashMap<String, ElementKind> = HashMap::new();
    for new in parsed.iter().flatten() {
        rows_kinds.entry(new.name.to_string()).or_insert(new.kind);
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut checked = Vec::with_capacity(total);
    for (i, row) in parsed.into_iter().enumerate() {
        let row = row.and_then(|new| {
            let name = new.name.to_string();
            if kinds.contains_key(&name) {
                return Err(ApiError::new(
                    ErrorCode::ElementExists,
                    format!("element '{name}' already exists"),
                )
                .with_field("name"));
            }
            if !seen.insert(name.clone()) {
                return Err(ApiError::new(
                    ErrorCode::ElementExists,
                    format!("an earlier row already adds '{name}': each name once"),
                )
                .with_field("name"));
            }
            let at = address(new.kind, &new.host, new.port);
            if let Some(other) = taken.get(&at) {
                return Err(same_address(new.kind, &new.host, new.port, other));
            }
            if let Some(cm) = new.settings.cm.as_deref() {
                let found = kinds.get(cm).or_else(|| rows_kinds.get(cm)).copied();
                cm_is_a_cm(cm, found)?;
            }
            taken.insert(at, name);
            Ok(new)
        });
        checked.push((i, row));
    }
    let invalid = checked.iter().filter(|(_, r)| r.is_err()).count();
    let mut report = ImportReport {
        error: None,
        dry_run: body.dry_run,
        added: 0,
        invalid: invalid as u64,
        rows: Vec::with_capacity(total),
    };
    let mut good = Vec::with_capacity(total);
    for (i, row) in checked {
        let (outcome, error) = match row {
            Ok(new) => {
                good.push(new);
                (ImportOutcome::WouldAdd, None)
            }
            Err(e) => (ImportOutcome::Invalid, Some(e.body().error)),
        };
        report.rows.push(ImportRow {
            row: i as u64 + 1,
            name: names[i].clone(),
            outcome,
            error,
            job: None,
        });
    }
    if invalid > 0 {
        report.error = Some(
            ApiError::new(
                ErrorCode::InvalidRows,
                format!(
                    "{invalid} of {total} rows are bad (each is named in rows, with its field): nothing was added"
                ),
            )
            .body()
            .error,
        );
        return Ok((StatusCode::BAD_REQUEST, report));
    }
    if body.dry_run {
        return Ok((StatusCode::OK, report));
    }
    let elements = store.add_elements(good).await?;
    tracing::info!(elements = elements.len(), by = %caller.name, "elements imported");
    for (row, e) in report.rows.iter_mut().zip(&elements) {
        row.outcome = ImportOutcome::Added;
        row.job = added(s, caller, &e.name, e.kind).await?;
    }
    report.added = elements.len() as u64;
    Ok((StatusCode::CREATED, report))
}
