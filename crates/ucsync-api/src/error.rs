//! Errors as the API answers them: every failure becomes an [`ApiError`]
//! with a code of the one table ([`ErrorCode`]) and its status, and the body
//! `{"error": {"code", "message", "field"?}}` — the framework's own
//! rejections (bad path or query, wrong content type, unknown route or
//! method) included.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::rejection::QueryRejection};
use ucsync_connect::ConnectError;
use ucsync_engine::RunnerError;
use ucsync_store::StoreError;

use crate::model::{ErrorBody, ErrorCode, ErrorDetail, FieldError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// A bad query parameter.
    pub fn query(e: FieldError) -> ApiError {
        ApiError::new(ErrorCode::InvalidQuery, e.message).with_field(e.field)
    }

    pub fn no_element(name: &str) -> ApiError {
        ApiError::new(ErrorCode::NoElement, format!("no element '{name}'"))
    }

    /// An error inside the service: logged in full, answered in general terms.
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %what, "request failed");
        ApiError::new(
            ErrorCode::Internal,
            "internal error: the service log has the details",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status(), Json(self.body())).into_response();
        if self.code.status() == 401 {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ucsync\""),
            );
        }
        r
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        ApiError::new(ErrorCode::InvalidField, e.message).with_field(e.field)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match &e {
            StoreError::Exists(_) => ApiError::new(ErrorCode::ElementExists, e.to_string()),
            StoreError::UserExists(_) => ApiError::new(ErrorCode::UserExists, e.to_string()),
            StoreError::NoElement(_) => ApiError::new(ErrorCode::NoElement, e.to_string()),
            StoreError::NoJob(_) => ApiError::new(ErrorCode::NoJob, e.to_string()),
            StoreError::NoSchedule(_) => ApiError::new(ErrorCode::NoSchedule, e.to_string()),
            StoreError::DefaultExists(_) => {
                ApiError::new(ErrorCode::DefaultScheduleExists, e.to_string())
            }
            StoreError::Secret(_) | StoreError::Database(_) => ApiError::internal(e),
        }
    }
}

/// The same failure answers the same code whatever the element's kind.
impl From<ConnectError> for ApiError {
    fn from(e: ConnectError) -> ApiError {
        let code = match &e {
            ConnectError::NotAllowed(n) => {
                return ApiError::from(n.clone());
            }
            ConnectError::UnknownType(_) => ErrorCode::UnknownObjectType,
            // The routes check the key first and name where it was; this
            // is the engine's own refusal of the same rule.
            ConnectError::InvalidKey(_) => {
                return ApiError::new(ErrorCode::InvalidField, e.to_string()).with_field("key");
            }
            ConnectError::Refused(_) => ErrorCode::ElementRefused,
            ConnectError::IdentityMismatch(_) => ErrorCode::HostKeyMismatch,
            ConnectError::LoginRefused(_) => ErrorCode::ElementLoginFailed,
            ConnectError::Unreachable(_) | ConnectError::Protocol(_) => ErrorCode::ElementError,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<ucsync_core::HostNotAllowed> for ApiError {
    fn from(e: ucsync_core::HostNotAllowed) -> ApiError {
        ApiError::new(ErrorCode::HostNotAllowed, e.to_string()).with_field(e.field)
    }
}

impl From<RunnerError> for ApiError {
    fn from(e: RunnerError) -> ApiError {
        match e {
            RunnerError::Store(e) => e.into(),
            RunnerError::Connect(e) => e.into(),
            RunnerError::Busy(_) => ApiError::new(ErrorCode::ElementBusy, e.to_string()),
            RunnerError::NoElement(_) => ApiError::new(ErrorCode::NoElement, e.to_string()),
            RunnerError::Stale(_) => ApiError::new(ErrorCode::PlanStale, e.to_string()),
            RunnerError::NoPlan(_) => ApiError::new(ErrorCode::NoPlan, e.to_string()),
            RunnerError::PlanApplied { .. } => ApiError::new(ErrorCode::PlanApplied, e.to_string()),
            RunnerError::AnswerLost { .. } => ApiError::new(ErrorCode::ElementError, e.to_string()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        // The deserializer's own words name the parameter ("limit: invalid digit found in string").
        let detail = std::error::Error::source(&r)
            .map(|s| s.to_string())
            .unwrap_or_else(|| r.body_text());
        let field = detail.split_once(':').map(|(f, _)| f.trim().to_string());
        let mut e = ApiError::new(
            ErrorCode::InvalidQuery,
            format!("invalid query string: {detail}"),
        );
        e.field = field.filter(|f| !f.is_empty() && !f.contains(' '));
        e
    }
}

/// The answer for a route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such route: the OpenAPI document at /api/v1/openapi.json lists them",
    )
}

/// The answer for a method a route does not have.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method: the OpenAPI document at /api/v1/openapi.json lists them",
    )
}
