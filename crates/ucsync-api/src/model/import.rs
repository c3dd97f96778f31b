//! The bodies of `POST /elements/import`: many elements added at once, all
//! or none, each row parsed as `POST /elements` parses its body; and the
//! answer, row by row. Also the CSV form of elements that the CLI's
//! `element import|export` and the console's import and export share: a
//! header line naming the columns ([`ELEMENT_COLUMNS`]), an element a line.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ucsync_core::ElementKind;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::{ElementView, ErrorDetail, JobView};

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// The fields of an element to add ([`super::NewElementBody`]), in the
/// order an import or export file gives them as columns.
pub const ELEMENT_COLUMNS: &[&str] = &[
    "name",
    "kind",
    "host",
    "port",
    "login",
    "password",
    "alternate_host",
    "notify_sync",
    "own_logins",
    "host_key",
    "tls",
    "ca_file",
    "cm",
];

/// Elements to add together: every row is checked as `POST /elements`
/// checks its body, and either all are added or none.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// The elements, each as `POST /elements` takes it: 1 to 10,000 (and
    /// within the service's body limit).
    #[schema(value_type = Vec<super::NewElementBody>, min_items = 1, max_items = 10000)]
    pub elements: Vec<serde_json::Value>,
    /// Check every row and answer what would be done; nothing is added.
    #[serde(default)]
    pub dry_run: bool,
}

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImportOutcome {
    /// The row is good: a dry run, or an import refused for other rows,
    /// would add it.
    WouldAdd,
    /// The element was added.
    Added,
    /// The row is bad: `error` says why and names the field.
    Invalid,
}

/// One row of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportRow {
    /// Its place in `elements`, from 1.
    pub row: u64,
    /// The name the row gives (`null` when it gives none that is text).
    pub name: Option<String>,
    pub outcome: ImportOutcome,
    /// Why the row is bad (`invalid`): its code and the field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    /// The initializing sync queued for the element added (`cm` and
    /// `ip-office`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobView>,
}

/// The answer to an import: every row, in order. A refused import (a bad
/// row) is an error answer too: `error` is `invalid-rows` and nothing was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Set when a row is bad: nothing was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    pub dry_run: bool,
    /// The elements added: all the rows, or none.
    pub added: u64,
    /// The rows that are bad.
    pub invalid: u64,
    pub rows: Vec<ImportRow>,
}

/// A `400` of the import: the report of its bad rows (`invalid-rows`), or,
/// for a body that is not an import at all, the usual error.
#[derive(Debug)]
pub struct ImportRefusedSchema;

impl PartialSchema for ImportRefusedSchema {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("ImportReport"))
            .item(Ref::from_schema_name("ErrorBody"))
            .description(Some(
                "`invalid-rows`: the report, naming each bad row and its field; else the usual error body.",
            ))
            .into()
    }
}

impl ToSchema for ImportRefusedSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ImportRefused")
    }
}

/// The port of an element of `kind` when none is given: a CM's SAT over
/// SSH, an IP Office's web service, a messaging system's LDAP (with TLS
/// or without).
pub fn default_port(kind: ElementKind, tls: bool) -> u16 {
    match (kind, tls) {
        (ElementKind::Cm, _) => 5022,
        (ElementKind::IpOffice, false) => 50804,
        (ElementKind::IpOffice, true) => 50805,
        (_, false) => 389,
        (_, true) => 636,
    }
}

/// A row of an import file: its line, and the element it gives, as JSON
/// (the body of `POST /elements`, as far as the file gives it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRow {
    pub line: u64,
    pub fields: Map<String, Value>,
}

/// A column name as a file may spell it: `alternate host`,
/// `alternate-host` and `Alternate_Host` are `alternate_host`.
fn column(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

fn bool_cell(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A CSV cell (or a console form's input) as the field's JSON: numbers
/// and yes/no where the field is one (else the text as it is, which the
/// service refuses naming the field), `own_logins` split at spaces; an
/// empty cell leaves the field out.
pub fn cell_value(field: &str, cell: &str) -> Option<Value> {
    if cell.is_empty() {
        return None;
    }
    let text = || Value::String(cell.to_string());
    Some(match field {
        "port" => cell
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| text()),
        "notify_sync" | "tls" => bool_cell(cell).map(Value::Bool).unwrap_or_else(text),
        "own_logins" => Value::Array(
            cell.split_whitespace()
                .map(|l| Value::String(l.to_string()))
                .collect(),
        ),
        _ => text(),
    })
}

/// The line, from 1, of the record that starts at `byte` — past the blank
/// lines before it, which the CSV reader's own count leaves out.
fn line_at(text: &str, byte: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
    while end < bytes.len() && matches!(bytes[end], b'\n' | b'\r') {
        end += 1;
    }
    bytes[..end].iter().filter(|b| **b == b'\n').count() as u64 + 1
}

/// The rows of a CSV file; blank lines are skipped. A header naming an
/// unknown column or missing one of name, kind, host and login, or a line
/// that is not CSV, is refused in words that give its line.
pub fn read_csv(text: &str) -> Result<Vec<FileRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("line 1: the header is not CSV ({e})"))?
        .iter()
        .map(column)
        .collect();
    for name in &header {
        if !ELEMENT_COLUMNS.contains(&name.as_str()) {
            return Err(format!(
                "line 1: unknown column '{name}': the columns are {}",
                ELEMENT_COLUMNS.join(", ")
            ));
        }
    }
    for required in ["name", "kind", "host", "login"] {
        if !header.iter().any(|h| h == required) {
            return Err(format!(
                "line 1: no '{required}' column: the header must name at least name, kind, host and login"
            ));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| line_at(text, p.byte()));
            format!("line {line}: not a CSV row of the header's columns ({e})")
        })?;
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let fields = header
            .iter()
            .zip(record.iter())
            .filter_map(|(h, cell)| cell_value(h, cell).map(|v| (h.clone(), v)))
            .collect();
        rows.push(FileRow { line, fields });
    }
    Ok(rows)
}

/// A row without a port takes its kind's, as `element add` does.
pub fn fill_port(fields: &mut Map<String, Value>) {
    if fields.contains_key("port") {
        return;
    }
    let kind = fields
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| k.parse::<ElementKind>().ok());
    if let Some(kind) = kind {
        let tls = fields.get("tls").and_then(Value::as_bool) != Some(false);
        fields.insert("port".into(), Value::from(default_port(kind, tls)));
    }
}

/// Whether a row gives a password (a non-empty one).
pub fn has_password(fields: &Map<String, Value>) -> bool {
    fields
        .get("password")
        .is_some_and(|p| p.as_str() != Some(""))
}

/// An element as a row of an export: the columns, no password.
pub fn export_row(e: &ElementView) -> Map<String, Value> {
    let s = &e.settings;
    let mut row = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            row.insert(k.to_string(), v);
        }
    };
    put("name", e.name.clone().into());
    put("kind", e.kind.as_str().into());
    put("host", e.host.clone().into());
    put("port", e.port.into());
    put("login", e.login.clone().into());
    put("alternate_host", e.alternate_host.clone().into());
    if e.kind == ElementKind::Cm {
        put("notify_sync", s.notify_sync.into());
        // The login is always its own; the others are what was given.
        let own: Vec<Value> = s
            .own_logins
            .iter()
            .filter(|l| !l.eq_ignore_ascii_case(&e.login))
            .map(|l| Value::String(l.clone()))
            .collect();
        if !own.is_empty() {
            put("own_logins", Value::Array(own));
        }
    }
    put("host_key", s.host_key.clone().into());
    put("tls", s.tls.into());
    put("ca_file", s.ca_file.clone().into());
    put("cm", s.cm.clone().into());
    row
}

/// Rows as a CSV file: a header of the columns but the password, then a
/// line per row ([`read_csv`] reads it back).
pub fn write_csv(rows: &[Map<String, Value>]) -> Result<String, csv::Error> {
    let columns: Vec<&str> = ELEMENT_COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "password")
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&columns)?;
    for r in rows {
        w.write_record(columns.iter().map(|c| {
            match r.get(*c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(v) => v.to_string(),
            }
        }))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // Every cell was a Rust string.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewElementBody;

    #[test]
    fn the_columns_are_the_fields_of_an_element_to_add() {
        let body: NewElementBody = serde_json::from_value(serde_json::json!({
            "name": "mm1", "kind": "messaging", "host": "127.0.0.1", "port": 636,
            "login": "cn=admin", "password": "pw", "alternate_host": "127.0.0.2",
            "notify_sync": false, "own_logins": [], "host_key": "k", "tls": true,
            "ca_file": "ca.pem", "cm": "cm1"
        }))
        .unwrap();
        let v = serde_json::to_value(body).unwrap();
        let mut fields: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut columns = ELEMENT_COLUMNS.to_vec();
        fields.sort_unstable();
        columns.sort_unstable();
        assert_eq!(fields, columns);
    }

    #[test]
    fn csv_cells_become_the_fields_of_an_element() {
        let rows = read_csv(
            "Name,kind,host,alternate host,port,login,tls,own_logins,notify_sync\n\
             cm1,cm,127.0.0.1,,5022,ucsync,,init craft,yes\n\
             \n\
             mm1,messaging,127.0.0.2,127.0.0.3,x,cn=admin,no,,\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(
            Value::Object(rows[0].fields.clone()),
            serde_json::json!({"name": "cm1", "kind": "cm", "host": "127.0.0.1", "port": 5022,
                "login": "ucsync", "own_logins": ["init", "craft"], "notify_sync": true})
        );
        assert_eq!(rows[1].line, 4);
        // A port that is not a number goes as text: the service names the field.
        assert_eq!(rows[1].fields["port"], "x");
        assert_eq!(rows[1].fields["tls"], false);
        assert_eq!(rows[1].fields["alternate_host"], "127.0.0.3");
    }

    #[test]
    fn a_bad_header_is_refused_with_its_line() {
        let err = read_csv("name,kind,hots,login\n").unwrap_err();
        assert!(err.contains("line 1: unknown column 'hots'"), "{err}");
        let err = read_csv("name,kind,host\n").unwrap_err();
        assert!(err.contains("no 'login' column"), "{err}");
        let err = read_csv("name,kind,host,login\na,cm,h\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }

    #[test]
    fn an_export_reads_back_as_the_same_rows() {
        let rows: Vec<Map<String, Value>> = [
            serde_json::json!({"name": "cm1", "kind": "cm", "host": "127.0.0.1", "port": 5022,
                "login": "ucsync", "notify_sync": true, "own_logins": ["init", "craft"]}),
            serde_json::json!({"name": "mm1", "kind": "cm-messaging", "host": "127.0.0.2",
                "port": 636, "login": "cn=admin,o=x", "tls": true, "ca_file": "/etc/ca.pem",
                "cm": "cm1", "host_key": "SHA256:ab"}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        let csv = write_csv(&rows).unwrap();
        let back: Vec<Map<String, Value>> = read_csv(&csv)
            .unwrap()
            .into_iter()
            .map(|r| r.fields)
            .collect();
        assert_eq!(back, rows, "{csv}");
    }
}
