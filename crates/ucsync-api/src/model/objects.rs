//! The bodies of `/elements/{name}/objects` and `/search`: objects as
//! shown (never a secret field's value), objects to add or change, and
//! search.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ucsync_core::SecretKey;
use ucsync_store as store;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use super::paging::page;
use super::{FieldError, non_empty};

page!(ObjectPage, ObjectView, "A page of an element's objects.");
page!(SearchPage, SearchHitView, "A page of search results.");
page!(
    HistoryPage,
    HistoryEntryView,
    "A page of an object's history, newest first."
);

/// One change of an object's history, as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntryView {
    /// The job that applied it (`/jobs/{job}`); absent for a change applied
    /// outside a job: by notify sync, or made through ucsync.
    pub job: Option<i64>,
    /// `add`, `change` or `delete`.
    pub op: String,
    /// The element login that made the change, when the element's history
    /// says (an init reads objects, not who made them).
    pub by_login: Option<String>,
    /// When the element says it was made, as the element writes it.
    pub at_element: Option<String>,
    /// When ucsync stored it.
    pub at: String,
}

impl From<store::HistoryEntry> for HistoryEntryView {
    fn from(h: store::HistoryEntry) -> HistoryEntryView {
        HistoryEntryView {
            job: h.job.map(|j| j.0),
            op: h.change.op.as_str().to_string(),
            by_login: h.change.by_login,
            at_element: h.change.at_element,
            at: store::time_text(h.change.at),
        }
    }
}

/// An object of an element. Secret fields are not shown; `secret_fields`
/// names those it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ObjectView {
    #[serde(rename = "type")]
    pub object_type: String,
    /// Empty for a system-wide form.
    pub key: String,
    pub fields: BTreeMap<String, String>,
    pub secret_fields: Vec<String>,
    pub updated_at: String,
}

/// The fields of a stored object, less its secrets (stored encrypted, so
/// recognisable without knowing the element kind), and the secrets' names.
fn shown_fields(fields: &ucsync_core::Fields) -> (BTreeMap<String, String>, Vec<String>) {
    let mut shown = BTreeMap::new();
    let mut secret = Vec::new();
    for (f, v) in fields.iter() {
        if SecretKey::is_encrypted(v) {
            secret.push(f.to_string());
        } else {
            shown.insert(f.to_string(), v.to_string());
        }
    }
    (shown, secret)
}

impl From<store::StoredObject> for ObjectView {
    fn from(o: store::StoredObject) -> ObjectView {
        let (fields, secret_fields) = shown_fields(&o.fields);
        ObjectView {
            object_type: o.id.object_type,
            key: o.id.key,
            fields,
            secret_fields,
            updated_at: store::time_text(o.updated_at),
        }
    }
}

/// Filters of an element's objects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ObjectFilter {
    /// Only objects of this type (`station`, `vdn`, `user`, …).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub object_type: Option<String>,
    /// Only the object with this key.
    pub key: Option<String>,
}

/// An object to add through ucsync.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewObjectBody {
    /// The object's key: one word, of its type's grammar (a CM station's is
    /// its extension, 1 to 13 digits; `next`, the CM's next free number, is
    /// not taken); another is refused (`invalid-field`) with nothing sent.
    #[schema(
        example = "1001",
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub key: String,
    #[serde(default)]
    #[schema(schema_with = new_fields_schema)]
    pub fields: BTreeMap<String, String>,
}

/// A change to an object: only the fields given change; an empty value clears one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectPatch {
    #[schema(schema_with = changed_fields_schema)]
    pub fields: BTreeMap<String, String>,
}

/// Field names to values; a name is not only white space (`propertyNames`
/// has no attribute of its own, hence the schema by hand).
fn fields_schema(description: &str, min_properties: Option<usize>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(description))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .pattern(Some(
                    r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
                )),
        ))
        .additional_properties(Some(
            ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)),
        ))
        .min_properties(min_properties)
}

fn new_fields_schema() -> impl Into<RefOr<Schema>> {
    fields_schema(
        "Field id or name to value, as the element's connector names them.",
        None,
    )
}

fn changed_fields_schema() -> impl Into<RefOr<Schema>> {
    fields_schema(
        "The fields to change, id or name to value; at least one.",
        Some(1),
    )
}

fn check_fields(fields: &BTreeMap<String, String>) -> Result<ucsync_core::Fields, FieldError> {
    if let Some(f) = fields.keys().find(|f| f.trim().is_empty()) {
        return Err(FieldError::new(
            "fields",
            format!("fields has an empty field name ({f:?})"),
        ));
    }
    Ok(ucsync_core::Fields::new(
        fields.iter().map(|(f, v)| (f.clone(), v.clone())).collect(),
    ))
}

impl NewObjectBody {
    pub fn parse(&self) -> Result<(String, ucsync_core::Fields), FieldError> {
        let key = non_empty("key", &self.key)?;
        Ok((key, check_fields(&self.fields)?))
    }
}

impl ObjectPatch {
    pub fn parse(&self) -> Result<ucsync_core::Fields, FieldError> {
        if self.fields.is_empty() {
            return Err(FieldError::new(
                "fields",
                "fields is empty: give at least one field to change",
            ));
        }
        check_fields(&self.fields)
    }
}

/// The search query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Objects whose key or name starts with this text (case-insensitive;
    /// white space around it is ignored).
    // Optional to serde, so that a missing `q` gets the message below
    // rather than the deserializer's; required to the document.
    #[param(
        required = true,
        min_length = 1,
        max_length = 256,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub q: Option<String>,
}

impl SearchQuery {
    pub fn parse(&self) -> Result<String, FieldError> {
        let raw = self.q.as_deref().unwrap_or("");
        let q = raw.trim();
        if q.is_empty() {
            return Err(FieldError::new(
                "q",
                "q is required: give the start of a key or name to search for",
            ));
        }
        // As sent and in characters: what the document's maxLength measures.
        if raw.chars().count() > 256 {
            return Err(FieldError::new("q", "q is longer than 256 characters"));
        }
        Ok(q.to_string())
    }
}

/// An object found by search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SearchHitView {
    pub element: String,
    #[serde(rename = "type")]
    pub object_type: String,
    pub key: String,
    pub name: Option<String>,
    pub updated_at: String,
}

impl From<store::SearchHit> for SearchHitView {
    fn from(h: store::SearchHit) -> SearchHitView {
        SearchHitView {
            element: h.element,
            object_type: h.object.id.object_type,
            key: h.object.id.key,
            name: h.name,
            updated_at: store::time_text(h.object.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_shown() {
        let key = SecretKey::generate();
        let fields = ucsync_core::Fields::new(vec![
            ("name".into(), "Doe".into()),
            ("security-code".into(), key.encrypt("1234")),
        ]);
        let (shown, secret) = shown_fields(&fields);
        assert_eq!(shown.len(), 1);
        assert_eq!(secret, vec!["security-code".to_string()]);
    }
}
