//! The bodies of `POST /elements/import`: many elements added at once, all
//! or none, each row parsed as `POST /elements` parses its body; and the
//! answer, row by row.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::{ErrorDetail, JobView};

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
}
