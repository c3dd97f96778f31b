//! The bodies of the REST API: what clients send and what they get back,
//! with their OpenAPI schemas. Free of HTTP-framework types, so the CLI client
//! reuses them as they are.
//!
//! Request bodies refuse unknown fields and are parsed into the store's types
//! here ([`NewElementBody::parse`], [`ElementPatch::apply`], …), each failure
//! naming the field at fault. Response bodies never carry a password or a
//! secret: secret object fields, stored encrypted, are left out and named in
//! `secret_fields`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use ucsync_core::{
    ElementKind, ElementName, ElementState, JobState, Role, SecretKey, SyncType, Trigger,
};
use ucsync_store as store;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema,
    SchemaType, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};

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

/// `Some(value)` for a field that is present, even as `null`: with
/// `#[serde(default)]`, an absent field stays `None`, so a PATCH can tell
/// "leave as it is" from "clear".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Reads a struct from a JSON object only. Serde's derive also fills a
/// struct from an array, by position — `[null, null]` as an element patch
/// would clear `alternate_host` — so request bodies go through this.
pub(crate) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    struct Entries<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Entries<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }

    d.deserialize_map(Entries(std::marker::PhantomData))
}

// ---------------------------------------------------------------- errors

/// Every error the API answers with: a stable code for scripts, and the HTTP
/// status that goes with it. One table, so the codes stay stable and each
/// appears once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// 400: the body is not JSON.
    InvalidJson,
    /// 400: a field of the body is missing, unknown, or has a bad value; `field` names it.
    InvalidField,
    /// 400: the body is JSON of the wrong shape (not an object, say).
    InvalidBody,
    /// 400: a query parameter is bad; `field` names it.
    InvalidQuery,
    /// 400: a path parameter is bad (a job id that is not a number, say).
    InvalidPath,
    /// 400: the element's host (`field` names which) is, or resolves to, an
    /// address outside the element networks; nothing was sent to it.
    HostNotAllowed,
    /// 404: the element does not know the object type the path names.
    UnknownObjectType,
    /// 401: no bearer token was sent.
    MissingToken,
    /// 401: the bearer token is not known.
    InvalidToken,
    /// 403: a read-only token on anything but GET.
    ReadOnlyToken,
    /// 404: no such route.
    NotFound,
    /// 404: no such element.
    NoElement,
    /// 404: no such job.
    NoJob,
    /// 404: no such schedule.
    NoSchedule,
    /// 404: no such token.
    NoToken,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: an element of that name exists.
    ElementExists,
    /// 409: a job is queued or running on the element.
    ElementBusy,
    /// 409: another element names this one as its CM.
    ElementInUse,
    /// 409: the element already has a default schedule.
    DefaultScheduleExists,
    /// 409: an element's default schedule is not deleted: it goes with its
    /// element; disable it instead.
    SystemSchedule,
    /// 409: the token is the last admin token.
    LastAdminToken,
    /// 409: another element of the same kind is at that host and port (the
    /// message names it).
    SameAddress,
    /// 409: the job has already finished (the message names how), so there
    /// is nothing to stop.
    JobFinished,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 415: the body is not sent as `application/json`.
    UnsupportedMediaType,
    /// 422: the element refused the change; nothing was stored.
    ElementRefused,
    /// 500: something went wrong inside the service; its log says what.
    Internal,
    /// 502: the element's host key differs from the pinned one.
    HostKeyMismatch,
    /// 502: the element refused ucsync's login.
    ElementLoginFailed,
    /// 502: the element could not be reached or broke the connection.
    ElementError,
    /// 503: the database does not answer.
    Unavailable,
    /// 503: as many event streams are open as the service allows.
    TooManyStreams,
    /// A code this build does not know, from a newer service: a client
    /// built before a code was added still reads the error's message (and
    /// the answer's status). The service never sends it.
    // `skip_serializing` keeps it out of the document's enum; the
    // Serialize impl below writes it anyway, so a client that passes an
    // error on (`--output json`) does not fail on it.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidJson,
        ErrorCode::InvalidField,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidPath,
        ErrorCode::HostNotAllowed,
        ErrorCode::UnknownObjectType,
        ErrorCode::MissingToken,
        ErrorCode::InvalidToken,
        ErrorCode::ReadOnlyToken,
        ErrorCode::NotFound,
        ErrorCode::NoElement,
        ErrorCode::NoJob,
        ErrorCode::NoSchedule,
        ErrorCode::NoToken,
        ErrorCode::MethodNotAllowed,
        ErrorCode::ElementExists,
        ErrorCode::ElementBusy,
        ErrorCode::ElementInUse,
        ErrorCode::DefaultScheduleExists,
        ErrorCode::SystemSchedule,
        ErrorCode::LastAdminToken,
        ErrorCode::SameAddress,
        ErrorCode::JobFinished,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ElementRefused,
        ErrorCode::Internal,
        ErrorCode::HostKeyMismatch,
        ErrorCode::ElementLoginFailed,
        ErrorCode::ElementError,
        ErrorCode::Unavailable,
        ErrorCode::TooManyStreams,
    ];

    /// The HTTP status of the code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidJson | InvalidField | InvalidBody | InvalidQuery | InvalidPath
            | HostNotAllowed => 400,
            MissingToken | InvalidToken => 401,
            ReadOnlyToken => 403,
            NotFound | NoElement | NoJob | NoSchedule | NoToken | UnknownObjectType => 404,
            MethodNotAllowed => 405,
            ElementExists
            | ElementBusy
            | ElementInUse
            | DefaultScheduleExists
            | SystemSchedule
            | LastAdminToken
            | SameAddress
            | JobFinished => 409,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            ElementRefused => 422,
            Internal => 500,
            HostKeyMismatch | ElementLoginFailed | ElementError => 502,
            Unavailable | TooManyStreams => 503,
            // Only ever read from an answer, whose status the client has.
            Unknown => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "invalid-json",
            InvalidField => "invalid-field",
            InvalidBody => "invalid-body",
            InvalidQuery => "invalid-query",
            InvalidPath => "invalid-path",
            HostNotAllowed => "host-not-allowed",
            UnknownObjectType => "unknown-object-type",
            MissingToken => "missing-token",
            InvalidToken => "invalid-token",
            ReadOnlyToken => "read-only-token",
            NotFound => "not-found",
            NoElement => "no-element",
            NoJob => "no-job",
            NoSchedule => "no-schedule",
            NoToken => "no-token",
            MethodNotAllowed => "method-not-allowed",
            ElementExists => "element-exists",
            ElementBusy => "element-busy",
            ElementInUse => "element-in-use",
            DefaultScheduleExists => "default-schedule-exists",
            SystemSchedule => "system-schedule",
            LastAdminToken => "last-admin-token",
            SameAddress => "same-address",
            JobFinished => "job-finished",
            PayloadTooLarge => "payload-too-large",
            UnsupportedMediaType => "unsupported-media-type",
            ElementRefused => "element-refused",
            Internal => "internal",
            HostKeyMismatch => "host-key-mismatch",
            ElementLoginFailed => "element-login-failed",
            ElementError => "element-error",
            Unavailable => "unavailable",
            TooManyStreams => "too-many-streams",
            Unknown => "unknown",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

// ---------------------------------------------------------------- patterns

// The document's `pattern`s say what the parsers below check, character for
// character, so that a client (or a fuzzer) can tell a good value from a bad
// one without asking. Attributes take only literals, so each is spelled out
// at its fields; a test checks that every pattern of the document is one of
// these, which are, in order:
// - an element name, as `ElementName::parse` takes it;
// - a host or login: no `char::is_whitespace` or `char::is_control`
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

// ---------------------------------------------------------------- paging

/// The default page size.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest page.
pub const MAX_LIMIT: u64 = 1000;

/// Which page of a list.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 9223372036854775807_u64)]
    pub offset: Option<u64>,
    /// Items per page: 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// A checked page: where it starts and how many items it holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub offset: u64,
    pub limit: u64,
}

/// The largest offset: the databases count rows in signed 64 bits.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

impl PageQuery {
    pub fn parse(self) -> Result<Paging, FieldError> {
        let offset = self.offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(FieldError::new(
                "offset",
                format!("offset must be at most {MAX_OFFSET}, not {offset}"),
            ));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new(
                "limit",
                format!("limit must be from 1 to {MAX_LIMIT}, not {limit}"),
            ));
        }
        Ok(Paging { offset, limit })
    }
}

impl Paging {
    /// The page of a list held in full.
    pub fn slice<T: Clone>(&self, all: &[T]) -> Vec<T> {
        all.iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
}

/// A page type per item type: named schemas the CLI and the OpenAPI
/// document can both refer to.
macro_rules! page {
    ($page:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
        pub struct $page {
            pub items: Vec<$item>,
            pub offset: u64,
            pub limit: u64,
            /// All items of the list, where counting them is cheap.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub total: Option<u64>,
        }
    };
}

page!(ElementPage, ElementView, "A page of elements.");
page!(JobPage, JobView, "A page of jobs, newest first.");
page!(ChangePage, ChangeView, "A page of a job's changes.");
page!(SchedulePage, ScheduleView, "A page of schedules.");
page!(ObjectPage, ObjectView, "A page of an element's objects.");
page!(SearchPage, SearchHitView, "A page of search results.");
page!(TokenPage, TokenView, "A page of API tokens.");
page!(
    NodePage,
    NodeView,
    "A page of the service's nodes, by name."
);

/// A node of the service: a `ucsync serve` on the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    /// Its `node` setting.
    pub name: String,
    /// Its ucsync version.
    pub version: Option<String>,
    pub started_at: Option<String>,
    /// When its heartbeat (renewed with its job leases) last beat.
    pub last_heartbeat: Option<String>,
    /// Its heartbeat stopped: the node died or lost the database. Its jobs
    /// fail as interrupted once their lease runs out; their logs say so.
    pub lost: bool,
    /// Its jobs waiting, running or stopping.
    pub jobs_running: u64,
    /// Where its API listens.
    pub http: Option<String>,
    /// Where its notify-sync syslog listener listens.
    pub syslog: Option<String>,
}

impl NodeView {
    /// The node as it is at `now`.
    pub fn at(n: store::NodeRecord, now: &str) -> NodeView {
        NodeView {
            // Times are RFC 3339 UTC of one length: text order is time order.
            lost: store::time_text(n.alive_until).as_str() < now,
            name: n.name,
            version: n.version,
            started_at: n.started_at.map(store::time_text),
            last_heartbeat: n.heartbeat_at.map(store::time_text),
            jobs_running: n.jobs,
            http: n.http,
            syslog: n.syslog,
        }
    }
}

// ---------------------------------------------------------------- elements

/// An element to add. `password` is write-only: no response contains it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewElementBody {
    /// 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit.
    #[schema(example = "cm-east", pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    pub name: String,
    #[schema(value_type = ElementKindSchema)]
    pub kind: ElementKind,
    /// A host name or IP address: no spaces or control characters.
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub host: String,
    /// Tried when `host` does not answer; not the same as `host`.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub alternate_host: Option<String>,
    #[schema(minimum = 1, maximum = 65535, example = 5022)]
    pub port: i64,
    /// No spaces or control characters.
    #[schema(
        min_length = 1,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub login: String,
    #[schema(write_only, min_length = 1)]
    pub password: String,
    /// `cm`: notify sync on.
    #[serde(default)]
    pub notify_sync: Option<bool>,
    /// `cm`: the logins that are ucsync's own (`login` always is).
    #[serde(default)]
    pub own_logins: Option<Vec<String>>,
    /// The pinned SSH host-key or certificate fingerprint; pinned at the first
    /// connection when not given.
    #[serde(default)]
    #[schema(
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub host_key: Option<String>,
    /// `ip-office` and the messaging kinds: TLS on.
    #[serde(default)]
    pub tls: Option<bool>,
    /// With `tls`: the CA certificate file the element's certificate is checked against.
    #[serde(default)]
    #[schema(
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub ca_file: Option<String>,
    /// `cm-messaging` (required), `messaging`, `modular-messaging`: the name
    /// of its CM element, which must exist.
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    pub cm: Option<String>,
}

/// A change to an element. Absent fields stay as they are; `null` clears
/// `alternate_host`, `host_key`, `ca_file`, `cm` and `tls`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub host: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        min_length = 1,
        max_length = 253,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub alternate_host: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(write_only, min_length = 1)]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_sync: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_logins: Option<Vec<String>>,
    /// A new fingerprint accepts the element's new host key; `null` pins
    /// again at the next connection.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub host_key: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<bool>)]
    pub tls: Option<Option<bool>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub ca_file: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(
        value_type = Option<String>,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
    )]
    pub cm: Option<Option<String>>,
}

/// An element's settings as checked: what the store keeps, less the name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementDraft {
    pub kind: ElementKind,
    pub host: String,
    pub alternate_host: Option<String>,
    pub port: u16,
    pub login: String,
    pub settings: store::ElementSettings,
}

/// A host name or address: non-empty, no spaces or control characters.
fn host(field: &str, value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            format!("{field} must not be empty: give a host name or an IP address"),
        ));
    }
    // In characters, as the document's maxLength counts.
    if value.chars().count() > 253 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            field,
            format!("{field} {value:?} is not a host name or an IP address"),
        ));
    }
    Ok(value.to_string())
}

fn port(value: i64) -> Result<u16, FieldError> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            FieldError::new("port", format!("port must be from 1 to 65535, not {value}"))
        })
}

/// A login name: non-empty, no spaces or control characters.
fn login(field: &str, value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, format!("{field} must not be empty")));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            field,
            format!("{field} {value:?} must not contain spaces or control characters"),
        ));
    }
    Ok(value.to_string())
}

fn password(value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new("password", "password must not be empty"));
    }
    Ok(value.to_string())
}

fn non_empty(field: &str, value: &str) -> Result<String, FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, format!("{field} must not be empty")));
    }
    Ok(value.to_string())
}

impl ElementDraft {
    /// Checks the kind-specific rules; each failure names its field.
    pub fn check(&self) -> Result<(), FieldError> {
        let s = &self.settings;
        let kind = self.kind;
        if kind != ElementKind::Cm {
            if s.notify_sync {
                return Err(FieldError::new(
                    "notify_sync",
                    format!("notify_sync applies to cm elements only, not to {kind}"),
                ));
            }
            if !s.own_logins.is_empty() {
                return Err(FieldError::new(
                    "own_logins",
                    format!("own_logins applies to cm elements only, not to {kind}"),
                ));
            }
        }
        if kind == ElementKind::Cm {
            if s.tls.is_some() {
                return Err(FieldError::new(
                    "tls",
                    "tls does not apply to cm elements, which are reached over SSH: pin their host key with host_key",
                ));
            }
            if s.ca_file.is_some() {
                return Err(FieldError::new(
                    "ca_file",
                    "ca_file does not apply to cm elements, which are reached over SSH: pin their host key with host_key",
                ));
            }
        }
        if s.ca_file.is_some() && s.tls == Some(false) {
            return Err(FieldError::new(
                "ca_file",
                "ca_file is only used with TLS: set tls to true or remove ca_file",
            ));
        }
        match (kind, &s.cm) {
            (ElementKind::CmMessaging, None) => {
                return Err(FieldError::new(
                    "cm",
                    "cm is required for a cm-messaging element: name the cm element it belongs to",
                ));
            }
            (ElementKind::Cm | ElementKind::IpOffice, Some(_)) => {
                return Err(FieldError::new(
                    "cm",
                    format!(
                        "cm applies to messaging, cm-messaging and modular-messaging elements only, not to {kind}"
                    ),
                ));
            }
            _ => {}
        }
        if let Some(cm) = &s.cm {
            ElementName::parse(cm).map_err(|e| FieldError::new("cm", format!("cm: {e}")))?;
        }
        for (i, l) in s.own_logins.iter().enumerate() {
            login(&format!("own_logins[{i}]"), l)?;
        }
        if let Some(k) = &s.host_key {
            non_empty("host_key", k)?;
            // A CM's is its SSH host key; the others pin a certificate.
            if kind != ElementKind::Cm {
                ucsync_connect::tls::parse_fingerprint(k)
                    .map_err(|e| FieldError::new("host_key", format!("host_key: {e}")))?;
            }
        }
        if let Some(f) = &s.ca_file {
            non_empty("ca_file", f)?;
        }
        if self.alternate_host.as_deref() == Some(self.host.as_str()) {
            return Err(FieldError::new(
                "alternate_host",
                "alternate_host is the same as host: give another address or leave it out",
            ));
        }
        Ok(())
    }
}

impl NewElementBody {
    /// The element to store, every field checked. Whether a named `cm`
    /// exists is for the caller, which has the store.
    pub fn parse(self) -> Result<store::NewElement, FieldError> {
        let name = ElementName::parse(&self.name)
            .map_err(|e| FieldError::new("name", format!("name: {e}")))?;
        let draft = ElementDraft {
            kind: self.kind,
            host: host("host", &self.host)?,
            alternate_host: self
                .alternate_host
                .as_deref()
                .map(|h| host("alternate_host", h))
                .transpose()?,
            port: port(self.port)?,
            login: login("login", &self.login)?,
            settings: store::ElementSettings {
                notify_sync: self.notify_sync.unwrap_or(false),
                own_logins: self.own_logins.unwrap_or_default(),
                host_key: self.host_key,
                // TLS unless refused: the password goes to the element.
                tls: self.tls.or((self.kind != ElementKind::Cm).then_some(true)),
                ca_file: self.ca_file,
                cm: self.cm,
            },
        };
        draft.check()?;
        Ok(store::NewElement {
            name,
            kind: draft.kind,
            host: draft.host,
            alternate_host: draft.alternate_host,
            port: draft.port,
            login: draft.login,
            password: password(&self.password)?,
            settings: draft.settings,
        })
    }
}

impl ElementPatch {
    /// The element as it would be after the patch, checked, and the update
    /// to store.
    pub fn apply(
        self,
        current: &store::Element,
    ) -> Result<(ElementDraft, store::ElementUpdate), FieldError> {
        let mut draft = ElementDraft {
            kind: current.kind,
            host: current.host.clone(),
            alternate_host: current.alternate_host.clone(),
            port: current.port,
            login: current.login.clone(),
            settings: current.settings.clone(),
        };
        let mut update = store::ElementUpdate::default();
        if let Some(h) = &self.host {
            draft.host = host("host", h)?;
            update.host = Some(draft.host.clone());
        }
        if let Some(a) = &self.alternate_host {
            draft.alternate_host = a
                .as_deref()
                .map(|h| host("alternate_host", h))
                .transpose()?;
            update.alternate_host = Some(draft.alternate_host.clone());
        }
        if let Some(p) = self.port {
            draft.port = port(p)?;
            update.port = Some(draft.port);
        }
        if let Some(l) = &self.login {
            draft.login = login("login", l)?;
            update.login = Some(draft.login.clone());
        }
        if let Some(p) = &self.password {
            update.password = Some(password(p)?);
        }
        let s = &mut draft.settings;
        if let Some(v) = self.notify_sync {
            s.notify_sync = v;
        }
        if let Some(v) = self.own_logins {
            s.own_logins = v;
        }
        if let Some(v) = self.host_key {
            s.host_key = v;
        }
        if let Some(v) = self.tls {
            s.tls = v;
        }
        if let Some(v) = self.ca_file {
            s.ca_file = v;
        }
        if let Some(v) = self.cm {
            s.cm = v;
        }
        if draft.settings != current.settings {
            update.settings = Some(draft.settings.clone());
        }
        draft.check()?;
        // The stored password is sent wherever these point: moving it asks
        // for the password again.
        let moved = [
            ("host", draft.host != current.host),
            (
                "alternate_host",
                draft.alternate_host != current.alternate_host,
            ),
            ("port", draft.port != current.port),
            ("tls", draft.settings.tls != current.settings.tls),
        ];
        if let Some((field, _)) = moved.iter().find(|(_, m)| *m)
            && self.password.is_none()
        {
            return Err(FieldError::new(
                "password",
                format!(
                    "changing {field} sends the element's password to another place: give the password again in the same request"
                ),
            ));
        }
        Ok((draft, update))
    }
}

/// An element's kind-specific settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SettingsView {
    pub notify_sync: bool,
    /// The CM logins that are ucsync's own, the element's login among them.
    pub own_logins: Vec<String>,
    pub host_key: Option<String>,
    pub tls: Option<bool>,
    /// An IP Office or messaging element reached without TLS: its password
    /// crosses the network in the clear.
    #[serde(default)]
    pub plain_text: bool,
    pub ca_file: Option<String>,
    pub cm: Option<String>,
}

/// Where an element's synchronization stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncStatusView {
    pub last_init_at: Option<String>,
    pub last_init_ok: Option<bool>,
    pub last_init_error: Option<String>,
    /// The element's software version at the last init.
    pub version: Option<String>,
    /// The version of ucsync's stored form at the last init.
    pub format: Option<u32>,
    pub last_sync_at: Option<String>,
    pub last_success_at: Option<String>,
    /// CM notify sync: when the last change event from the element was
    /// received (to the second; `null` when none was).
    #[serde(default)]
    #[schema(required = true)]
    pub last_notify_at: Option<String>,
    /// The newest job that ran and finished on it, of any type (`null`:
    /// none has).
    #[serde(default)]
    #[schema(required = true)]
    pub last_job: Option<LastJobView>,
}

/// A finished job, in an element's sync status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LastJobView {
    pub id: i64,
    #[serde(rename = "type")]
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    /// `succeeded`, `failed` or `stopped`.
    #[schema(value_type = JobStateSchema)]
    pub state: JobState,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

fn never_synced() -> ElementState {
    ElementState::NeverSynced
}

/// An element with its sync status. Never its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElementView {
    pub name: String,
    #[schema(value_type = ElementKindSchema)]
    pub kind: ElementKind,
    pub host: String,
    pub alternate_host: Option<String>,
    pub port: u16,
    pub login: String,
    pub settings: SettingsView,
    /// Where its synchronization stands, from its last init, its last job
    /// of any type and the job running now.
    #[serde(default = "never_synced")]
    #[schema(value_type = ElementStateSchema)]
    pub state: ElementState,
    /// Why it is in that state (`null` for `in-sync` with nothing to add).
    #[serde(default)]
    #[schema(required = true)]
    pub state_reason: Option<String>,
    pub sync: SyncStatusView,
    /// Objects synchronized from it.
    pub objects: u64,
    /// Those objects per type (`station`, `vdn`, …); types it has none of
    /// are left out.
    #[serde(default)]
    #[schema(required = true)]
    pub objects_by_type: BTreeMap<String, u64>,
    pub created_at: String,
}

impl ElementView {
    /// `objects_by_type` as the store counts it; `objects` is their sum.
    /// `running` is the job running on it now, `last` its newest finished
    /// one (`Store::last_finished_jobs`).
    pub fn new(
        e: &store::Element,
        objects_by_type: BTreeMap<String, u64>,
        running: Option<&store::Job>,
        last: Option<&store::Job>,
    ) -> ElementView {
        let status = ucsync_core::element_status(&ucsync_core::StatusFacts {
            running: running.map(|j| j.sync_type),
            last_init_ok: e.sync.last_init_ok,
            last_init_error: e.sync.last_init_error.clone(),
            last_job: last.map(|j| ucsync_core::LastJob {
                sync_type: j.sync_type,
                state: j.state,
                error: j.error.clone(),
            }),
        });
        let own_logins = if e.kind == ElementKind::Cm {
            e.own_logins()
        } else {
            e.settings.own_logins.clone()
        };
        ElementView {
            name: e.name.to_string(),
            kind: e.kind,
            host: e.host.clone(),
            alternate_host: e.alternate_host.clone(),
            port: e.port,
            login: e.login.clone(),
            settings: SettingsView {
                notify_sync: e.settings.notify_sync,
                own_logins,
                host_key: e.settings.host_key.clone(),
                tls: e.settings.tls,
                plain_text: e.kind != ElementKind::Cm && e.settings.tls != Some(true),
                ca_file: e.settings.ca_file.clone(),
                cm: e.settings.cm.clone(),
            },
            state: status.state,
            state_reason: status.reason,
            sync: SyncStatusView {
                last_init_at: e.sync.last_init_at.map(store::time_text),
                last_init_ok: e.sync.last_init_ok,
                last_init_error: e.sync.last_init_error.clone(),
                version: e.sync.version_at_init.clone(),
                format: e.sync.format_at_init,
                last_sync_at: e.sync.last_sync_at.map(store::time_text),
                last_success_at: e.sync.last_success_at.map(store::time_text),
                last_notify_at: e.sync.last_notify_at.map(store::time_text),
                last_job: last.map(|j| LastJobView {
                    id: j.id.0,
                    sync_type: j.sync_type,
                    state: j.state,
                    finished_at: j.finished_at.map(store::time_text),
                    error: j.error.clone(),
                }),
            },
            objects: objects_by_type.values().sum(),
            objects_by_type,
            created_at: store::time_text(e.created_at),
        }
    }
}

/// An element just added, with the initializing sync queued for it (`cm`
/// and `ip-office`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElementCreated {
    pub element: ElementView,
    pub job: Option<JobView>,
}

/// What a connection check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckView {
    pub element: String,
    /// The element's software version.
    pub version: String,
    /// Its SSH host-key (or certificate) fingerprint.
    pub fingerprint: Option<String>,
    /// The address that answered: `host`, or `alternate_host` when `host` did not.
    pub host: String,
    /// Whether `fingerprint` is the pinned one (`null`: none is pinned yet).
    pub pinned: Option<bool>,
}

// ---------------------------------------------------------------- jobs

/// Done and expected objects of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProgressView {
    pub done: u64,
    pub expected: u64,
}

/// What a job applied, and — for an init the discrepancy check refused —
/// what it would have applied (`would_…`), none of which was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CountsView {
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub skipped: u64,
    #[serde(default)]
    pub would_add: u64,
    #[serde(default)]
    pub would_change: u64,
    #[serde(default)]
    pub would_delete: u64,
}

/// A sync job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    pub element: String,
    /// The type asked for.
    #[schema(value_type = SyncTypeSchema)]
    pub requested: SyncType,
    /// The type that ran (or runs).
    #[serde(rename = "type")]
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    /// Why `type` differs from `requested`, or why the job failed, in words.
    pub reason: Option<String>,
    #[schema(value_type = TriggerSchema)]
    pub trigger: Trigger,
    /// The token's name, or `scheduler`.
    pub requested_by: String,
    #[schema(value_type = JobStateSchema)]
    pub state: JobState,
    /// Per object type.
    pub progress: BTreeMap<String, ProgressView>,
    pub counts: CountsView,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The node that runs or ran it (its `node` setting); `null` while it
    /// is queued.
    #[serde(default)]
    pub node: Option<String>,
    /// What the job logged, oldest first: only in the view of one job
    /// (`GET /jobs/{id}`), never in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub log: Option<Vec<String>>,
}

impl JobView {
    /// The view of one job, with its log.
    pub fn with_log(job: store::Job, log: Vec<String>) -> JobView {
        JobView {
            log: Some(log),
            ..JobView::from(job)
        }
    }
}

impl From<store::Job> for JobView {
    fn from(j: store::Job) -> JobView {
        JobView {
            id: j.id.0,
            element: j.element,
            requested: j.requested,
            sync_type: j.sync_type,
            reason: j.reason,
            trigger: j.trigger,
            requested_by: j.requested_by,
            state: j.state,
            progress: j
                .progress
                .into_iter()
                .map(|(t, (done, expected))| (t, ProgressView { done, expected }))
                .collect(),
            counts: CountsView {
                added: j.counts.added,
                changed: j.counts.changed,
                deleted: j.counts.deleted,
                unchanged: j.counts.unchanged,
                skipped: j.counts.skipped,
                would_add: j.counts.would_add,
                would_change: j.counts.would_change,
                would_delete: j.counts.would_delete,
            },
            error: j.error,
            created_at: store::time_text(j.created_at),
            started_at: j.started_at.map(store::time_text),
            finished_at: j.finished_at.map(store::time_text),
            node: j.node,
            log: None,
        }
    }
}

/// Filters of the job list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    /// Only this element's jobs.
    pub element: Option<String>,
    /// Only jobs in this state.
    #[param(value_type = Option<JobStateSchema>)]
    pub state: Option<JobState>,
}

/// A sync request: `elements` or `"all": true`, not both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    #[serde(rename = "type")]
    pub sync_type: SyncType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

/// By hand, because "`elements` or `all: true`, not both" is an `anyOf`,
/// which the derive cannot say; [`SyncBody::targets`] checks the same.
impl PartialSchema for SyncBody {
    fn schema() -> RefOr<Schema> {
        let typed = |t: Type| ObjectBuilder::new().schema_type(SchemaType::Type(t));
        let nullable =
            |t: Type| ObjectBuilder::new().schema_type(SchemaType::from_iter([t, Type::Null]));
        let names = ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(typed(Type::String).pattern(Some(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")))
            .min_items(Some(1))
            .description(Some("The elements to sync, by name; each is synced once."));
        let shape = ObjectBuilder::new()
            .property("type", SyncTypeSchema::schema())
            .required("type")
            .property("elements", names)
            .property(
                "all",
                nullable(Type::Boolean).description(Some("`true`: every element.")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let named = ObjectBuilder::new()
            .property("elements", typed(Type::Array))
            .required("elements")
            .property(
                "all",
                nullable(Type::Boolean).enum_values(Some([Value::Bool(false), Value::Null])),
            );
        let all = ObjectBuilder::new()
            .property(
                "all",
                typed(Type::Boolean).enum_values(Some([Value::Bool(true)])),
            )
            .required("all")
            .property("elements", typed(Type::Null));
        AllOfBuilder::new()
            .description(Some(
                "A sync request: `elements` or `\"all\": true`, not both.",
            ))
            .item(shape)
            .item(AnyOfBuilder::new().item(named).item(all))
            .into()
    }
}

impl ToSchema for SyncBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SyncBody")
    }
}

/// Which elements a sync request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncTargets {
    All,
    /// At least one, each once, in the order given.
    Elements(Vec<ElementName>),
}

impl SyncBody {
    pub fn targets(&self) -> Result<SyncTargets, FieldError> {
        match (&self.elements, self.all) {
            (Some(_), Some(true)) => Err(FieldError::new(
                "all",
                "give either elements or \"all\": true, not both",
            )),
            (None, Some(true)) => Ok(SyncTargets::All),
            (None, _) => Err(FieldError::new(
                "elements",
                "name the elements to sync in elements, or set \"all\": true",
            )),
            (Some(names), _) if names.is_empty() => Err(FieldError::new(
                "elements",
                "elements is empty: name at least one element, or set \"all\": true",
            )),
            (Some(names), _) => {
                let mut out: Vec<ElementName> = Vec::with_capacity(names.len());
                for (i, n) in names.iter().enumerate() {
                    let name = ElementName::parse(n).map_err(|e| {
                        FieldError::new(format!("elements[{i}]"), format!("elements[{i}]: {e}"))
                    })?;
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
                Ok(SyncTargets::Elements(out))
            }
        }
    }
}

/// One job of a sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestedJob {
    /// The request joined a queued or running job of the same or greater strength.
    pub joined: bool,
    pub job: JobView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncResponse {
    pub jobs: Vec<RequestedJob>,
}

/// One object change of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeView {
    #[serde(rename = "type")]
    pub object_type: String,
    pub key: String,
    /// `add`, `change` or `delete`.
    pub op: String,
    /// The element login that made the change, when known.
    pub by_login: Option<String>,
    pub at_element: Option<String>,
    pub at: String,
    /// `false`: an init refused by the discrepancy check would have applied it.
    pub applied: bool,
}

impl From<store::ChangeRecord> for ChangeView {
    fn from(c: store::ChangeRecord) -> ChangeView {
        ChangeView {
            object_type: c.object_type,
            key: c.key,
            op: store::op_name(c.op).to_string(),
            by_login: c.by_login,
            at_element: c.at_element,
            at: store::time_text(c.at),
            applied: c.applied,
        }
    }
}

// ---------------------------------------------------------------- objects

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

// ---------------------------------------------------------------- schedules

/// Which elements a scheduled job syncs: `"all"` or `{"elements": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetBody {
    All,
    Elements(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UnitBody {
    Minutes,
    Hours,
    Days,
    Weeks,
}

/// Every `n` units from the first run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EveryBody {
    #[schema(minimum = 1)]
    pub n: u32,
    pub unit: UnitBody,
}

/// How a schedule repeats: `"none"`, `{"every": {"n": 1, "unit": "days"}}`
/// or `{"cron": "0 3 * * *"}` (five fields, local wall-clock time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RepeatBody {
    #[default]
    None,
    Every(#[serde(deserialize_with = "object")] EveryBody),
    Cron(String),
}

/// A schedule to add.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScheduleBody {
    /// Defaults to a description of what it does. At most 200 characters.
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: Option<String>,
    pub target: TargetBody,
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    /// RFC 3339, any offset.
    pub first_run: DateTime<Utc>,
    #[serde(default)]
    pub repeat: RepeatBody,
    /// No run after this instant.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// An IANA zone name; the service's setting when not given.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A change to a schedule: absent fields stay; `null` clears `end` and
/// `time_zone` (the service's zone then applies).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 200,
        pattern = r"[^\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SyncTypeSchema>)]
    pub sync_type: Option<SyncType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_run: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<RepeatBody>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub end: Option<Option<DateTime<Utc>>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A schedule with the scheduler's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    pub id: i64,
    pub name: String,
    /// Set for an element's default schedule (removed with the element).
    pub default_for: Option<String>,
    pub target: TargetBody,
    #[schema(value_type = SyncTypeSchema)]
    pub sync_type: SyncType,
    pub first_run: DateTime<Utc>,
    pub repeat: RepeatBody,
    pub end: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub enabled: bool,
    pub last_fired: Option<String>,
    pub next_due: Option<String>,
    pub created_at: String,
}

fn target_spec(t: &TargetBody) -> Result<ucsync_schedule::Target, FieldError> {
    Ok(match t {
        TargetBody::All => ucsync_schedule::Target::All,
        TargetBody::Elements(names) => ucsync_schedule::Target::Elements(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    ElementName::parse(n).map_err(|e| {
                        FieldError::new(
                            format!("target.elements[{i}]"),
                            format!("target.elements[{i}]: {e}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn repeat_spec(r: &RepeatBody) -> ucsync_schedule::Repeat {
    use ucsync_schedule::{Repeat, Unit};
    match r {
        RepeatBody::None => Repeat::None,
        RepeatBody::Every(e) => Repeat::Every {
            n: e.n,
            unit: match e.unit {
                UnitBody::Minutes => Unit::Minutes,
                UnitBody::Hours => Unit::Hours,
                UnitBody::Days => Unit::Days,
                UnitBody::Weeks => Unit::Weeks,
            },
        },
        RepeatBody::Cron(c) => Repeat::Cron(c.clone()),
    }
}

fn repeat_body(r: &ucsync_schedule::Repeat) -> RepeatBody {
    use ucsync_schedule::{Repeat, Unit};
    match r {
        Repeat::None => RepeatBody::None,
        Repeat::Every { n, unit } => RepeatBody::Every(EveryBody {
            n: *n,
            unit: match unit {
                Unit::Minutes => UnitBody::Minutes,
                Unit::Hours => UnitBody::Hours,
                Unit::Days => UnitBody::Days,
                Unit::Weeks => UnitBody::Weeks,
            },
        }),
        Repeat::Cron(c) => RepeatBody::Cron(c.clone()),
    }
}

fn schedule_name(
    name: Option<&str>,
    spec: &ucsync_schedule::ScheduleSpec,
) -> Result<String, FieldError> {
    match name {
        Some(n) => {
            let n = non_empty("name", n)?;
            if n.chars().count() > 200 {
                return Err(FieldError::new(
                    "name",
                    "name is longer than 200 characters",
                ));
            }
            Ok(n)
        }
        None => Ok(match &spec.target {
            ucsync_schedule::Target::All => format!("{} of all elements", spec.sync_type),
            ucsync_schedule::Target::Elements(names) => format!(
                "{} of {}",
                spec.sync_type,
                names
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

impl NewScheduleBody {
    /// The name and specification; [`ucsync_schedule::Schedule::new`]
    /// checks whether it can fire.
    pub fn parse(&self) -> Result<(String, ucsync_schedule::ScheduleSpec), FieldError> {
        let spec = ucsync_schedule::ScheduleSpec {
            target: target_spec(&self.target)?,
            sync_type: self.sync_type,
            first_run: self.first_run,
            repeat: repeat_spec(&self.repeat),
            end: self.end,
            time_zone: self.time_zone.clone(),
            enabled: self.enabled.unwrap_or(true),
        };
        Ok((schedule_name(self.name.as_deref(), &spec)?, spec))
    }
}

impl SchedulePatch {
    /// The name and specification after the patch.
    pub fn apply(
        &self,
        name: &str,
        spec: &ucsync_schedule::ScheduleSpec,
    ) -> Result<(String, ucsync_schedule::ScheduleSpec), FieldError> {
        let mut spec = spec.clone();
        if let Some(t) = &self.target {
            spec.target = target_spec(t)?;
        }
        if let Some(t) = self.sync_type {
            spec.sync_type = t;
        }
        if let Some(t) = self.first_run {
            spec.first_run = t;
        }
        if let Some(r) = &self.repeat {
            spec.repeat = repeat_spec(r);
        }
        if let Some(e) = self.end {
            spec.end = e;
        }
        if let Some(z) = &self.time_zone {
            spec.time_zone = z.clone();
        }
        if let Some(e) = self.enabled {
            spec.enabled = e;
        }
        let name = match &self.name {
            Some(n) => schedule_name(Some(n), &spec)?,
            None => name.to_string(),
        };
        Ok((name, spec))
    }
}

impl ScheduleView {
    /// `schedule` is the record's specification, checked.
    pub fn new(r: &store::ScheduleRecord, schedule: &ucsync_schedule::Schedule) -> ScheduleView {
        let spec = schedule.to_spec();
        ScheduleView {
            id: r.id,
            name: r.name.clone(),
            default_for: r.default_for.clone(),
            target: match &spec.target {
                ucsync_schedule::Target::All => TargetBody::All,
                ucsync_schedule::Target::Elements(n) => {
                    TargetBody::Elements(n.iter().map(|n| n.to_string()).collect())
                }
            },
            sync_type: spec.sync_type,
            first_run: spec.first_run,
            repeat: repeat_body(&spec.repeat),
            end: spec.end,
            time_zone: schedule.time_zone().name().to_string(),
            enabled: spec.enabled,
            last_fired: r.last_fired.map(store::time_text),
            next_due: r.next_due.map(store::time_text),
            created_at: store::time_text(r.created_at),
        }
    }
}

// ---------------------------------------------------------------- tokens

/// A token to create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// Who or what uses it; jobs it requests show it as `requested_by`. At
    /// most 64 characters, no control characters, not only white space.
    #[schema(
        example = "nightly-script",
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
}

impl NewTokenBody {
    pub fn parse(&self) -> Result<(String, Role), FieldError> {
        let name = non_empty("name", &self.name)?;
        // Characters, as the document's maxLength counts them.
        if name.chars().count() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(FieldError::new(
                "name",
                "name must be at most 64 characters, without control characters",
            ));
        }
        Ok((name, self.role))
    }
}

/// An API token. Its secret is shown once, when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<store::Token> for TokenView {
    fn from(t: store::Token) -> TokenView {
        TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: store::time_text(t.created_at),
            last_used_at: t.last_used_at.map(store::time_text),
        }
    }
}

/// A token just created, with its secret: shown this once, stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    pub token: TokenView,
    /// `ucs_` and 43 characters; send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

// ---------------------------------------------------------------- events, health

/// One server-sent event's data; the SSE event name is its `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventView {
    /// A job was queued, started, or ended.
    // Boxed: a job is ten times the size of the other events.
    Job { job: Box<JobView> },
    /// An element was `added`, `changed` or `removed`.
    Element { name: String, change: String },
    /// The client fell behind and missed `missed` events: read the lists again.
    Lagged { missed: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthView {
    /// `ok`.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element() -> NewElementBody {
        serde_json::from_value(serde_json::json!({
            "name": "cm1", "kind": "cm", "host": "127.0.0.11", "port": 5022,
            "login": "ucsync", "password": "secret"
        }))
        .unwrap()
    }

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c}");
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json, c.as_str());
            assert!((400..600).contains(&c.status()));
        }
    }

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

    #[test]
    fn element_fields_are_checked() {
        let check = |patch: serde_json::Value, field: &str| {
            let mut v = serde_json::to_value(element()).unwrap();
            for (k, x) in patch.as_object().unwrap() {
                v[k] = x.clone();
            }
            let body: NewElementBody = serde_json::from_value(v).unwrap();
            let err = body.parse().unwrap_err();
            assert_eq!(err.field, field, "{err}");
        };
        assert!(element().parse().is_ok());
        check(serde_json::json!({"name": "-x"}), "name");
        check(serde_json::json!({"host": ""}), "host");
        check(serde_json::json!({"host": "a b"}), "host");
        check(
            serde_json::json!({"alternate_host": "127.0.0.11"}),
            "alternate_host",
        );
        check(serde_json::json!({"port": 0}), "port");
        check(serde_json::json!({"port": 65536}), "port");
        check(serde_json::json!({"login": ""}), "login");
        check(serde_json::json!({"password": ""}), "password");
        check(serde_json::json!({"tls": true}), "tls");
        check(serde_json::json!({"cm": "cm0"}), "cm");
        check(serde_json::json!({"kind": "cm-messaging"}), "cm");
        check(
            serde_json::json!({"kind": "messaging", "notify_sync": true}),
            "notify_sync",
        );
        check(
            serde_json::json!({"own_logins": ["a", ""]}),
            "own_logins[1]",
        );
    }

    #[test]
    fn paging_bounds() {
        assert_eq!(
            PageQuery::default().parse().unwrap(),
            Paging {
                offset: 0,
                limit: 50
            }
        );
        assert!(
            PageQuery {
                offset: None,
                limit: Some(0)
            }
            .parse()
            .is_err()
        );
        assert!(
            PageQuery {
                offset: None,
                limit: Some(1001)
            }
            .parse()
            .is_err()
        );
        // The databases count in i64: past it is refused, not wrapped.
        let past = PageQuery {
            offset: Some(MAX_OFFSET + 1),
            limit: None,
        };
        assert_eq!(past.parse().unwrap_err().field, "offset");
        let last = PageQuery {
            offset: Some(MAX_OFFSET),
            limit: None,
        };
        assert_eq!(last.parse().unwrap().offset, MAX_OFFSET);
        let p = Paging {
            offset: 1,
            limit: 2,
        };
        assert_eq!(p.slice(&[1, 2, 3, 4]), vec![2, 3]);
    }

    #[test]
    fn sync_targets() {
        let body = |v: serde_json::Value| serde_json::from_value::<SyncBody>(v).unwrap();
        assert_eq!(
            body(serde_json::json!({"type": "init", "all": true})).targets(),
            Ok(SyncTargets::All)
        );
        assert_eq!(
            body(serde_json::json!({"type": "init", "elements": ["a", "a", "b"]}))
                .targets()
                .unwrap(),
            SyncTargets::Elements(vec![
                ElementName::parse("a").unwrap(),
                ElementName::parse("b").unwrap()
            ])
        );
        for (v, field) in [
            (serde_json::json!({"type": "init"}), "elements"),
            (
                serde_json::json!({"type": "init", "elements": []}),
                "elements",
            ),
            (
                serde_json::json!({"type": "init", "elements": ["a"], "all": true}),
                "all",
            ),
            (
                serde_json::json!({"type": "init", "elements": ["a b"]}),
                "elements[0]",
            ),
        ] {
            assert_eq!(body(v).targets().unwrap_err().field, field);
        }
    }

    #[test]
    fn the_sync_schema_says_what_targets_checks() {
        let doc = serde_json::to_value(crate::openapi().as_ref()).unwrap();
        let mut schema = doc["components"]["schemas"]["SyncBody"].clone();
        schema["components"] = doc["components"].clone();
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        for (body, valid) in [
            (serde_json::json!({"type": "init", "all": true}), true),
            (
                serde_json::json!({"type": "init", "all": true, "elements": null}),
                true,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"]}),
                true,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"], "all": false}),
                true,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"], "all": null}),
                true,
            ),
            (serde_json::json!({"type": "init"}), false),
            (serde_json::json!({"type": "init", "all": false}), false),
            (serde_json::json!({"type": "init", "elements": []}), false),
            (
                serde_json::json!({"type": "init", "elements": ["a b"]}),
                false,
            ),
            (
                serde_json::json!({"type": "init", "elements": ["cm1"], "all": true}),
                false,
            ),
            (
                serde_json::json!({"type": "init", "elements": null, "all": null}),
                false,
            ),
        ] {
            assert_eq!(validator.is_valid(&body), valid, "the document on {body}");
            let parsed: SyncBody = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(parsed.targets().is_ok(), valid, "targets() on {body}");
        }
    }

    #[test]
    fn patch_clears_with_null_and_keeps_when_absent() {
        let p: ElementPatch =
            serde_json::from_value(serde_json::json!({"alternate_host": null})).unwrap();
        assert_eq!(p.alternate_host, Some(None));
        let p: ElementPatch = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(p.alternate_host, None);
    }

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
