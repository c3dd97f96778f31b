//! Extractors whose rejections are [`ApiError`]s, so a bad body, path or
//! query is answered in the API's error shape, naming the field at fault.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::model::ErrorCode;

/// A JSON body, sent as `application/json`.
#[derive(Debug, Clone)]
pub(crate) struct JsonBody<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "the body must be JSON: send it with 'Content-Type: application/json'",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r: BytesRejection| {
                if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorCode::PayloadTooLarge, "the body is too large")
                } else {
                    ApiError::new(
                        ErrorCode::InvalidBody,
                        format!("cannot read the body: {}", r.body_text()),
                    )
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A body that must be a JSON object (see [`crate::model::object`]).
struct ObjectBody<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for ObjectBody<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::model::object(d).map(ObjectBody)
    }
}

/// Parses a JSON body: not JSON is `invalid-json`; JSON of the wrong shape
/// is `invalid-field` naming the field (or `invalid-body` at the top, an
/// array or a scalar where an object belongs among them).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let ObjectBody(value) = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(path, inner)
    })?;
    de.end().map_err(|e| json_error(".".into(), e))?;
    Ok(value)
}

/// A JSON object already read — one row of a list — as `T`, its faults
/// named as a body's are (the field relative to the row).
pub(crate) fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "the row is not a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        json_error(path, e.into_inner())
    })
}

fn json_error(path: String, e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            ErrorCode::InvalidJson,
            if e.is_eof() && e.line() == 1 && e.column() == 0 {
                "the body is empty: send a JSON object".to_string()
            } else {
                format!("the body is not valid JSON: {e}")
            },
        ),
        Category::Data => {
            // serde's message carries its position; the field path says more.
            let message = strip_position(&e.to_string());
            let field = if path != "." {
                Some(path)
            } else {
                // Missing and unknown fields are reported at their parent.
                quoted_field(&message)
            };
            match field {
                Some(f) if message.starts_with("missing field") => {
                    ApiError::new(ErrorCode::InvalidField, format!("{f} is required")).with_field(f)
                }
                Some(f) if message.starts_with("unknown field") => {
                    ApiError::new(ErrorCode::InvalidField, message).with_field(f)
                }
                Some(f) => {
                    ApiError::new(ErrorCode::InvalidField, format!("{f}: {message}")).with_field(f)
                }
                None => ApiError::new(
                    ErrorCode::InvalidBody,
                    format!("the body has the wrong shape: {message}"),
                ),
            }
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The field named in "missing field `x`" or "unknown field `x`, expected …".
fn quoted_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split_once('`').map(|(f, _)| f.to_string())
}

/// Path parameters, answered with `invalid-path` when they do not parse.
#[derive(Debug, Clone)]
pub(crate) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| {
                let detail = std::error::Error::source(&r)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| r.body_text());
                ApiError::new(ErrorCode::InvalidPath, format!("invalid path: {detail}"))
            })
    }
}

/// Query parameters, answered with `invalid-query` when they do not parse.
#[derive(Debug, Clone)]
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(ApiError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewTokenBody;

    fn err(body: &str) -> ApiError {
        parse_json::<NewTokenBody>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(err("{").code, ErrorCode::InvalidJson);
        assert_eq!(err("").code, ErrorCode::InvalidJson);
        assert_eq!(
            err(r#"{"name": "a", "role": "admin"} x"#).code,
            ErrorCode::InvalidJson
        );
        assert_eq!(err("[]").code, ErrorCode::InvalidBody);
        // By position, serde would fill the struct from an array.
        assert_eq!(err(r#"["a", "admin"]"#).code, ErrorCode::InvalidBody);
        assert_eq!(err(r#""a""#).code, ErrorCode::InvalidBody);
        // Nested structs too: a repeat's `every` is an object.
        let e = parse_json::<crate::model::NewScheduleBody>(
            br#"{"target": "all", "sync_type": "init", "first_run": "2030-01-01T00:00:00Z",
                 "repeat": {"every": [1, "days"]}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidField, Some("repeat.every")),
            "{e}"
        );
        let e = err(r#"{"role": "admin"}"#);
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidField, Some("name"))
        );
        assert_eq!(e.message, "name is required");
        let e = err(r#"{"name": "a", "role": "admin", "extra": 1}"#);
        assert_eq!(e.field.as_deref(), Some("extra"));
        let e = err(r#"{"name": "a", "role": "root"}"#);
        assert_eq!(e.field.as_deref(), Some("role"));
        assert!(
            e.message.starts_with("role: unknown variant `root`"),
            "{}",
            e.message
        );
    }
}
