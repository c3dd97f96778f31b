//! The bodies of the REST API: what clients send and what they get back,
//! with their OpenAPI schemas. Free of HTTP-framework types, so the CLI client
//! reuses them as they are.
//!
//! Request bodies refuse unknown fields and are parsed into the store's types
//! here ([`NewElementBody::parse`], [`ElementPatch::apply`], …), each failure
//! naming the field at fault. Response bodies never carry a password or a
//! secret: secret object fields, stored encrypted, are left out and named in
//! `secret_fields`.
//!
//! One module per resource, as in `routes/`; [`ErrorCode`] is the one table
//! of error codes (`error.rs`).

mod alarms;
mod catalog;
mod elements;
mod error;
mod import;
mod jobs;
mod nodes;
mod objects;
mod paging;
mod schedules;
mod service;
mod tokens;
mod users;

pub use self::alarms::*;
pub use self::catalog::*;
pub use self::elements::*;
pub use self::error::*;
pub use self::import::*;
pub use self::jobs::*;
pub use self::nodes::*;
pub use self::objects::*;
pub use self::paging::*;
pub use self::schedules::*;
pub use self::service::*;
pub use self::tokens::*;
pub use self::users::*;

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use ucsync_core::{
    AlarmCondition, ElementKind, ElementState, JobState, Role, Severity, SyncType, Trigger,
};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// Schemas for the enumerations of `ucsync-core`, which knows nothing of
/// OpenAPI: each a named string enum listing the core type's own values.
macro_rules! enum_schema {
    ($schema:ident, $name:literal, $ty:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $schema;

        impl PartialSchema for $schema {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some(<$ty>::ALL.iter().map(|v| v.as_str())))
                    .description(Some($doc))
                    .into()
            }
        }

        impl ToSchema for $schema {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

enum_schema!(
    ElementKindSchema,
    "ElementKind",
    ElementKind,
    "What kind of element: which connector talks to it."
);
enum_schema!(
    SyncTypeSchema,
    "SyncType",
    SyncType,
    "The kind of synchronization."
);
enum_schema!(TriggerSchema, "Trigger", Trigger, "What started a job.");
enum_schema!(
    RoleSchema,
    "Role",
    Role,
    "What a token may do: `admin` everything, `read-only` GET only."
);
enum_schema!(
    ElementStateSchema,
    "ElementState",
    ElementState,
    "Where an element's synchronization stands: `never-synced` (no init has completed), `syncing` (a job runs), `in-sync`, `needs-init` (the last init failed, or the last job was refused until an init runs, as after an upgrade), `failing` (the last job failed)."
);
enum_schema!(
    JobStateSchema,
    "JobState",
    JobState,
    "Where a job is in its life: `queued`, then (an init) `waiting` on its node for a place in the init pool, `running`, `stopping` when asked to stop, and one of `stopped`, `succeeded`, `failed`."
);

enum_schema!(
    SeveritySchema,
    "Severity",
    Severity,
    "How grave an alarm is: `critical` (the element cannot be reached, refuses the login, or is not the one pinned), `major` (a sync failed or was refused), `minor` (the history wrapped, a schedule could not fire), `warning` (notify sync fell silent)."
);
enum_schema!(
    AlarmConditionSchema,
    "AlarmCondition",
    AlarmCondition,
    "What an alarm is about; an element has at most one open alarm per condition."
);

/// `Some(value)` for a field that is present, even as `null`: with
/// `#[serde(default)]`, an absent field stays `None`, so a PATCH can tell
/// "leave as it is" from "clear".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(crate) use ucsync_core::json::object;

/// Text that is not only white space.
fn non_empty(field: &str, value: &str) -> Result<String, FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, format!("{field} must not be empty")));
    }
    Ok(value.to_string())
}

// The document's `pattern`s say what the parsers of these modules check, character for
// character, so that a client (or a fuzzer) can tell a good value from a bad
// one without asking. Attributes take only literals, so each is spelled out
// at its fields; a test checks that every pattern of the document is one of
// these, which are, in order:
// - an element name, as `ElementName::parse` takes it;
// - a host, login or user name: no `char::is_whitespace` or `char::is_control`
//   character (U+0000-U+0020, U+007F-U+00A0 and the Unicode spaces);
// - text that `str::trim` leaves something of;
// - the same without control characters (token names).
#[cfg(test)]
pub(crate) const PATTERNS: &[&str] = &[
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$",
    r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$",
];

#[cfg(test)]
mod tests {
    use super::*;
    use ucsync_core::ElementName;

    #[test]
    fn the_documents_patterns_are_the_checked_ones() {
        fn walk(v: &serde_json::Value, found: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        match (k.as_str(), x) {
                            ("pattern", serde_json::Value::String(p)) => found.push(p.clone()),
                            _ => walk(x, found),
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, found)),
                _ => {}
            }
        }
        let doc = serde_json::to_value(crate::openapi().as_ref()).unwrap();
        let mut found = Vec::new();
        walk(&doc, &mut found);
        assert!(found.len() > 10, "{found:?}");
        for p in &found {
            assert!(PATTERNS.contains(&p.as_str()), "{p} is not one of PATTERNS");
        }
        // Each pattern against its parser, on every character that could
        // tell them apart: controls, spaces of every kind, and a few others.
        let matches = |pattern: &str, value: &str| {
            jsonschema::draft202012::new(&serde_json::json!({"type": "string", "pattern": pattern}))
                .unwrap()
                .is_valid(&serde_json::json!(value))
        };
        let probes = (0u32..=0x3000)
            .chain([0xfeff, 0x10000])
            .filter_map(char::from_u32)
            .filter(|c| {
                (*c as u32) < 0x250 || c.is_whitespace() || c.is_control() || *c == '\u{3000}'
            });
        for c in probes {
            for v in [format!("a{c}b"), c.to_string()] {
                assert_eq!(
                    matches(PATTERNS[1], &v),
                    host("host", &v).is_ok(),
                    "host {v:?}"
                );
                assert_eq!(
                    matches(PATTERNS[1], &v),
                    user_name(&v).is_ok(),
                    "user name {v:?}"
                );
                assert_eq!(
                    matches(PATTERNS[2], &v),
                    non_empty("key", &v).is_ok(),
                    "text {v:?}"
                );
                let token = NewTokenBody {
                    name: v.clone(),
                    role: Role::Admin,
                };
                assert_eq!(
                    matches(PATTERNS[3], &v),
                    token.parse().is_ok(),
                    "token name {v:?}"
                );
            }
            let name = format!("a{c}");
            assert_eq!(
                matches(PATTERNS[0], &name),
                ElementName::parse(&name).is_ok(),
                "element name {name:?}"
            );
        }
    }
}
