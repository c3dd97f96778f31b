//! Who is using the console: a session cookie (its secret known to the
//! browser alone, its hash to the store), the session's form token (CSRF)
//! checked on every form, and the extractors pages and actions take.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequestParts, Request,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use ucsync_core::Role;

use super::{Failure, page_error};
use crate::ApiState;
use crate::auth::Caller;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "ucsync_session";
/// The sign-in form's own cookie: its form token, before there is a session.
pub(crate) const SIGN_IN_COOKIE: &str = "ucsync_sign_in";

/// 256 random bits, URL-safe.
pub(crate) fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The hash the store keeps of a session's secret; the context keeps it
/// apart from the API tokens' hashes.
pub(crate) fn secret_hash(secret: &str) -> [u8; 32] {
    blake3::derive_key("ucsync 2026 console session secret", secret.as_bytes())
}

/// Compared as hashes, whose equality takes the same time wherever they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    blake3::hash(a.as_bytes()) == blake3::hash(b.as_bytes())
}

/// A cookie of the console: HttpOnly, SameSite=Strict, for the whole site,
/// Secure when the service is served over HTTPS.
pub(crate) fn cookie(name: &'static str, value: String, https: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .build()
}

/// The same cookie, expired: the browser forgets it.
pub(crate) fn removal(name: &'static str, https: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), https);
    c.make_removal();
    c
}

/// The value of cookie `name` in the request's headers.
pub(crate) fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// The address a request came from (the listener records it as
/// `ConnectInfo`); requests whose address is not known share one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_canonical())
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// The signed-in user of a page: without a session, a page sends the
/// browser to the sign-in form (and back here after it).
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub name: String,
    pub role: Role,
    /// The session's form token, which every form carries.
    pub csrf: String,
    /// The page asked for (path and query), for forms that come back to it.
    pub here: String,
    pub(super) secret_hash: [u8; 32],
}

impl Operator {
    pub(crate) fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The user as the API's operations know a caller: what it asks for
    /// shows the user's name.
    pub(crate) fn caller(&self) -> Caller {
        Caller {
            name: self.name.clone(),
            role: self.role,
        }
    }

    /// Refuses a read-only user (whose pages show no action anyway).
    pub(crate) fn require_admin(&self) -> Result<(), Failure> {
        if self.is_admin() {
            Ok(())
        } else {
            tracing::warn!(user = %self.name, "console action by a read-only user refused");
            Err(Failure::forbidden(format!(
                "{} is a read-only user: only an admin may change anything",
                self.name
            )))
        }
    }

    /// Refuses a form without the session's token: a page of another site
    /// cannot make the browser act in this one.
    pub(crate) fn check_csrf(&self, token: Option<&str>) -> Result<(), Failure> {
        match token {
            Some(t) if same_token(t, &self.csrf) => Ok(()),
            _ => {
                tracing::warn!(user = %self.name, "console form without its session's token refused");
                Err(Failure::forbidden(
                    "the form's token is not this session's: reload the page and try again",
                ))
            }
        }
    }
}

/// The session of a request, if it has one that has not been idle too long.
async fn operator(parts: &Parts, s: &ApiState) -> Result<Option<Operator>, Failure> {
    let Some(secret) = read_cookie(&parts.headers, COOKIE) else {
        return Ok(None);
    };
    let hash = secret_hash(&secret);
    let session = s
        .store()
        .session_by_hash(&hash, s.settings.session_idle)
        .await
        .map_err(|e| Failure::from(crate::ApiError::from(e)))?;
    let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    Ok(session.map(|session| Operator {
        name: session.user.name,
        role: session.user.role,
        csrf: session.csrf,
        here: here.to_string(),
        secret_hash: hash,
    }))
}

/// Where the sign-in form sends the browser back to: a path of this site.
pub(crate) fn local_path(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\")).then_some(next)
}

impl FromRequestParts<ApiState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &ApiState) -> Result<Self, Response> {
        match operator(parts, s).await {
            Ok(Some(o)) => Ok(o),
            Ok(None) => {
                let back = if parts.method == Method::GET {
                    parts.uri.path_and_query().map_or("/", |p| p.as_str())
                } else {
                    "/"
                };
                let to = format!(
                    "/sign-in?next={}",
                    url_escape(local_path(back).unwrap_or("/"))
                );
                Err(Redirect::to(&to).into_response())
            }
            Err(f) => Err(page_error(None, f)),
        }
    }
}

impl OptionalFromRequestParts<ApiState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &ApiState) -> Result<Option<Self>, Response> {
        operator(parts, s).await.map_err(|f| page_error(None, f))
    }
}

/// Percent-encodes a query value.
pub(crate) fn url_escape(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q[1..].to_string())
        .unwrap_or_default()
}

/// A form an admin sent from a page of this session: the user is an admin,
/// the form carries the session's token, and its other fields parse as
/// `T` (often a body type of the API, which refuses fields it does not
/// know).
#[derive(Debug)]
pub(crate) struct Action<T> {
    pub operator: Operator,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<ApiState> for Action<T> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &ApiState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let operator =
            <Operator as FromRequestParts<ApiState>>::from_request_parts(&mut parts, s).await?;
        let fail = |f: Failure| page_error(Some(&operator), f);
        operator.require_admin().map_err(fail)?;
        let bytes = axum::body::to_bytes(body, s.settings.max_body)
            .await
            .map_err(|_| fail(Failure::bad_request("the form is too large")))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| fail(Failure::bad_request("the form cannot be read")))?;
        let token = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_str());
        operator.check_csrf(token).map_err(fail)?;
        let rest: Vec<&(String, String)> = fields.iter().filter(|(k, _)| k != "csrf").collect();
        let form = serde_urlencoded::to_string(&rest)
            .map_err(|e| e.to_string())
            .and_then(|encoded| serde_urlencoded::from_str(&encoded).map_err(|e| e.to_string()))
            .map_err(|e| {
                fail(Failure::bad_request(format!(
                    "the form cannot be read: {e}"
                )))
            })?;
        Ok(Action { operator, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        assert_eq!(
            local_path("/jobs?state=running"),
            Some("/jobs?state=running")
        );
        assert_eq!(local_path("//127.0.0.9/"), None);
        assert_eq!(local_path("/\\127.0.0.9"), None);
        assert_eq!(local_path("http://127.0.0.9/"), None);
    }

    #[test]
    fn cookies_are_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; ucsync_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(read_cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(read_cookie(&h, SIGN_IN_COOKIE), None);
    }

    #[test]
    fn the_session_cookie_is_strict_and_http_only() {
        let c = cookie(COOKIE, "x".into(), true).to_string();
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(
            !cookie(COOKIE, "x".into(), false)
                .to_string()
                .contains("Secure")
        );
    }
}
