//! Bearer tokens: made here (`ucs_` and 32 random bytes), stored only as a
//! hash, looked up by that hash on every request. A read-only token may GET
//! (and HEAD) only.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::Rng;
use ucsync_core::Role;
use ucsync_store::{Store, StoreError, Token};

use crate::ApiState;
use crate::error::ApiError;
use crate::model::ErrorCode;

/// What every token's secret starts with, so a leaked one is recognisable
/// (secret scanners look for such prefixes).
pub const TOKEN_PREFIX: &str = "ucs_";

/// The hash the store keeps of a token's secret. The secret is 256 random
/// bits, so a fast hash is enough; the context keeps these hashes apart from
/// every other BLAKE3 use.
pub fn token_hash(secret: &str) -> [u8; 32] {
    blake3::derive_key("ucsync 2026 api token secret", secret.as_bytes())
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Creates a token; returns it and its secret, which nothing keeps: show it
/// once. `serve` makes the first admin token with this.
pub async fn create_token(
    store: &dyn Store,
    name: &str,
    role: Role,
) -> Result<(Token, String), StoreError> {
    let secret = new_secret();
    let token = store.create_token(name, role, &token_hash(&secret)).await?;
    Ok((token, secret))
}

/// The `metrics_token` setting: a secret good for `GET /metrics` only, so a
/// Prometheus server scrapes without a token that could read the API.
/// Never printed: its `Debug` hides it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// The shortest secret taken: a guessable one would open the metrics.
    pub const MIN_LEN: usize = 16;

    pub fn new(secret: impl Into<String>) -> MetricsToken {
        MetricsToken(secret.into())
    }

    pub fn is_long_enough(&self) -> bool {
        self.0.chars().count() >= Self::MIN_LEN
    }

    /// Compared as hashes, whose equality takes the same time wherever
    /// they differ.
    fn matches(&self, secret: &str) -> bool {
        blake3::hash(self.0.as_bytes()) == blake3::hash(secret.as_bytes())
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(…)")
    }
}

/// Who is calling: the token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("a route that needs a caller has no authentication"))
    }
}

/// The bearer token of a request, if it sent one.
fn bearer(parts: &axum::http::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidToken,
            "the Authorization header is not valid text",
        )
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(ApiError::new(
            ErrorCode::InvalidToken,
            "the Authorization header must be 'Bearer <token>'",
        )),
    }
}

/// Lets a request through with a valid token (and, unless it is a GET, an
/// admin one); answers 401 or 403 otherwise.
pub async fn require_token(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let secret = match bearer(req.headers()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            tracing::warn!(%method, %path, "request without a token refused");
            return Err(ApiError::new(
                ErrorCode::MissingToken,
                "this needs a token: send 'Authorization: Bearer <token>' (the first admin token is in <data dir>/admin.token)",
            ));
        }
        Err(e) => {
            tracing::warn!(%method, %path, "request with a malformed Authorization header refused");
            return Err(e);
        }
    };
    if path == "/metrics"
        && method == Method::GET
        && (state.settings.metrics_token.as_ref()).is_some_and(|t| t.matches(secret))
    {
        return Ok(next.run(req).await);
    }
    let token = if secret.starts_with(TOKEN_PREFIX) {
        state
            .runner
            .store()
            .token_by_hash(&token_hash(secret))
            .await?
    } else {
        None
    };
    let Some(token) = token else {
        // Never the token itself: a typo of a real one would be half a secret in the log.
        tracing::warn!(%method, %path, "request with an unknown token refused");
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            "the token is not known: it may have been deleted",
        ));
    };
    if token.role == Role::ReadOnly && method != Method::GET && method != Method::HEAD {
        tracing::warn!(%method, %path, token = %token.name, "read-only token refused");
        return Err(ApiError::new(
            ErrorCode::ReadOnlyToken,
            format!(
                "token '{}' is read-only: only GET requests are allowed with it",
                token.name
            ),
        ));
    }
    req.extensions_mut().insert(Caller {
        name: token.name,
        role: token.role,
    });
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_look_right_and_differ() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("ucs_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(token_hash(&a), token_hash(&a));
    }
}
