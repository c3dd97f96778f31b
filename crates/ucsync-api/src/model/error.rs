//! The error table: every code the API answers with, its HTTP status and
//! what it means, written once in [`error_codes!`]. The [`ErrorCode`] enum,
//! its status, its JSON, its OpenAPI enum and the description the document
//! gives of every code all come from it. And the error body.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// Declares [`ErrorCode`] from a table: one line per code, its variant, its
/// kebab-case name, its HTTP status and one line saying what it means.
macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:literal, $doc:literal;)+) => {
        /// Every error the API answers with: a stable code for scripts, and
        /// the HTTP status that goes with it. One table, so the codes stay
        /// stable and each appears once.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = concat!($status, ": ", $doc)]
                $variant,
            )+
            /// A code this build does not know, from a newer service: a
            /// client built before a code was added still reads the
            /// error's message (and the answer's status). The service never
            /// sends it and the document does not list it; it is written
            /// as `unknown`, so that a client that passes an error on
            /// (`--output json`) does not fail on it.
            Unknown,
        }

        impl ErrorCode {
            /// Every code the service sends.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The HTTP status of the code.
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)+
                    // Only ever read from an answer, whose status the client has.
                    ErrorCode::Unknown => 500,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// What the code means, in one line.
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $doc,)+
                    ErrorCode::Unknown => "a code this build does not know, from a newer service",
                }
            }

            /// The code of that name; [`ErrorCode::Unknown`] for any other.
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $($code => ErrorCode::$variant,)+
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

error_codes! {
    InvalidJson = "invalid-json", 400, "the body is not JSON.";
    InvalidField = "invalid-field", 400, "a field of the body is missing, unknown, or has a bad value; `field` names it.";
    InvalidBody = "invalid-body", 400, "the body is JSON of the wrong shape (not an object, say).";
    InvalidQuery = "invalid-query", 400, "a query parameter is bad; `field` names it.";
    InvalidPath = "invalid-path", 400, "a path parameter is bad (a job id that is not a number, say).";
    InvalidRows = "invalid-rows", 400, "rows of an import are bad: the answer's `rows` names each, with its code and field; nothing was added.";
    HostNotAllowed = "host-not-allowed", 400, "the element's host (`field` names which) is, or resolves to, an address outside the element networks; nothing was sent to it.";
    UnknownObjectType = "unknown-object-type", 404, "the element does not know the object type the path names.";
    MissingToken = "missing-token", 401, "no bearer token was sent.";
    InvalidToken = "invalid-token", 401, "the bearer token is not known.";
    ReadOnlyToken = "read-only-token", 403, "a read-only token on anything but GET, or on `/users` at all (users are administered, and listed, with an admin token only).";
    NotFound = "not-found", 404, "no such route.";
    NoElement = "no-element", 404, "no such element.";
    NoJob = "no-job", 404, "no such job.";
    NoSchedule = "no-schedule", 404, "no such schedule.";
    NoToken = "no-token", 404, "no such token.";
    NoAlarm = "no-alarm", 404, "no such alarm.";
    NoUser = "no-user", 404, "no such user.";
    NoWebhook = "no-webhook", 404, "no webhook of that name is configured.";
    MethodNotAllowed = "method-not-allowed", 405, "the route exists, the method does not.";
    ElementExists = "element-exists", 409, "an element of that name exists.";
    UserExists = "user-exists", 409, "a user of that name exists.";
    ElementBusy = "element-busy", 409, "a job is queued or running on the element.";
    ElementInUse = "element-in-use", 409, "another element names this one as its CM.";
    DefaultScheduleExists = "default-schedule-exists", 409, "the element already has a default schedule.";
    SystemSchedule = "system-schedule", 409, "an element's default schedule is not deleted: it goes with its element; disable it instead.";
    LastAdminToken = "last-admin-token", 409, "the token is the last admin token.";
    LastAdminUser = "last-admin-user", 409, "the user is the last admin user: it is neither removed nor given another role.";
    SameAddress = "same-address", 409, "another element of the same kind is at that host and port (the message names it).";
    JobFinished = "job-finished", 409, "the job has already finished (the message names how), so there is nothing to stop.";
    PlanStale = "plan-stale", 409, "the plan is stale: the element or ucsync's database changed since the dry run (the message says which); run the preview again.";
    PlanApplied = "plan-applied", 409, "the job's plan was already applied (the message says when and by whom).";
    NoPlan = "no-plan", 409, "the job keeps no plan to apply: only a dry run that succeeded, or an init the discrepancy check refused, keeps one.";
    PayloadTooLarge = "payload-too-large", 413, "the body is too large.";
    UnsupportedMediaType = "unsupported-media-type", 415, "the body is not sent as `application/json`.";
    ElementRefused = "element-refused", 422, "the element refused the change; nothing was stored.";
    Internal = "internal", 500, "something went wrong inside the service; its log says what.";
    HostKeyMismatch = "host-key-mismatch", 502, "the element is not the one pinned: its SSH host key (a CM) or its TLS certificate (an IP Office, a messaging system) differs from the pinned one; nothing was sent to it.";
    ElementLoginFailed = "element-login-failed", 502, "the element refused ucsync's login: check the element's login and password.";
    ElementError = "element-error", 502, "the element could not be reached or broke the connection.";
    Unavailable = "unavailable", 503, "the database does not answer.";
    TooManyStreams = "too-many-streams", 503, "as many event streams are open as the service allows.";
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
        Cow::<str>::deserialize(d).map(|s| ErrorCode::parse(&s))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The document's enum of codes, described from the table.
impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let mut description = String::from(
            "Every error the API answers with: a stable code for scripts, and the HTTP status that goes with it.\n",
        );
        for c in ErrorCode::ALL {
            description.push_str(&format!(
                "\n- `{}` ({}): {}",
                c.as_str(),
                c.status(),
                c.description()
            ));
        }
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(description))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// Every error response: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// One sentence, lower-case, saying what to do when there is something to do.
    pub message: String,
    /// The field, query parameter or path parameter at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A bad field of a request, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    /// A dotted path: `port`, `target.elements`, `own_logins[1]`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c}");
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json, c.as_str());
            assert!((400..600).contains(&c.status()));
            assert_eq!(ErrorCode::parse(c.as_str()), *c);
            assert!(!c.description().is_empty());
        }
    }

    #[test]
    fn unknown_codes_are_read_not_refused() {
        let body: ErrorBody = serde_json::from_value(serde_json::json!({
            "error": {"code": "a-code-from-a-newer-service", "message": "it went wrong"}
        }))
        .unwrap();
        assert_eq!(body.error.code, ErrorCode::Unknown);
        assert_eq!(body.error.message, "it went wrong");
        assert!(!ErrorCode::ALL.contains(&ErrorCode::Unknown));
        assert_eq!(
            serde_json::to_value(&body).unwrap()["error"]["code"],
            "unknown"
        );
        let known: ErrorCode = serde_json::from_value(serde_json::json!("no-job")).unwrap();
        assert_eq!(known, ErrorCode::NoJob);
    }
}
