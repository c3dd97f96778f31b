//! Signing in and out: a user's name and password checked against its
//! argon2id hash (on the blocking pool, a few at a time), failed sign-ins
//! limited per client address, and the session cookie set and cleared.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tokio::sync::Semaphore;
use ucsync_core::Password;

use super::session::{
    self, COOKIE, ClientAddr, Operator, SIGN_IN_COOKIE, cookie, local_path, read_cookie, removal,
};
use super::{Failure, fail, render};
use crate::{ApiState, password};

/// Failed sign-ins an address may make within [`FAILURE_WINDOW`]; past
/// them it is refused until the window has passed.
pub(crate) const MAX_FAILURES: u32 = 5;
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses with failures remembered at once: past it, the oldest
/// windows are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

/// What sign-ins share on a node: the failures per client address, and the
/// places for checking a password (each costs tens of milliseconds and
/// 19 MiB, so a crowd of sign-ins waits rather than exhausts the service).
#[derive(Debug)]
pub(crate) struct SignIns {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    hashing: Arc<Semaphore>,
}

impl Default for SignIns {
    fn default() -> Self {
        SignIns {
            failures: Mutex::new(HashMap::new()),
            hashing: Arc::new(Semaphore::new(2)),
        }
    }
}

impl SignIns {
    /// How long `addr` must wait before it may try again, if it must.
    fn locked_for(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, since) = failures.get(&addr)?;
        let left = FAILURE_WINDOW.saturating_sub(now.duration_since(since));
        (count >= MAX_FAILURES && !left.is_zero()).then_some(left)
    }

    fn failed(&self, addr: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ADDRESSES {
            failures.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
            if failures.len() >= MAX_ADDRESSES
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (_, s))| *s)
                    .map(|(a, _)| *a)
            {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(addr).or_insert((0, now));
        if now.duration_since(entry.1) >= FAILURE_WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    fn succeeded(&self, addr: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&addr);
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    next: String,
    csrf: String,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

fn next_path(next: Option<&str>) -> String {
    next.and_then(local_path).unwrap_or("/").to_string()
}

/// The sign-in page, with the form's own token in a cookie (a session's
/// token does not exist yet).
fn sign_in_page(s: &ApiState, status: StatusCode, page: SignInPage) -> Response {
    let mut r = (status, render(&page)).into_response();
    set_cookie(&mut r, cookie(SIGN_IN_COOKIE, page.csrf, s.settings.https));
    r
}

fn set_cookie(r: &mut Response, c: cookie::Cookie<'static>) {
    if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `GET /sign-in`: the form, or straight on for someone signed in.
pub(crate) async fn form(
    State(s): State<ApiState>,
    operator: Option<Operator>,
    Query(q): Query<Next>,
) -> Response {
    let next = next_path(q.next.as_deref());
    if operator.is_some() {
        return Redirect::to(&next).into_response();
    }
    let page = SignInPage {
        next,
        csrf: session::new_secret(),
        name: String::new(),
        error: None,
    };
    sign_in_page(&s, StatusCode::OK, page)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    name: String,
    /// Moved into a [`Password`] at once, which wipes it when dropped.
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// A hash no password matches in practice, checked when the name is not a
/// user's, so that a wrong name takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| password::hash(&session::new_secret()))
}

/// `POST /sign-in`.
pub(crate) async fn sign_in(
    State(s): State<ApiState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(mut f): Form<SignInForm>,
) -> Response {
    let password = Password::new(std::mem::take(&mut f.password));
    let next = next_path(f.next.as_deref());
    let again = |status: StatusCode, error: String| {
        let page = SignInPage {
            next: next.clone(),
            csrf: session::new_secret(),
            name: f.name.clone(),
            error: Some(error),
        };
        sign_in_page(&s, status, page)
    };
    let own = read_cookie(&headers, SIGN_IN_COOKIE);
    let token_ok = matches!((&own, &f.csrf), (Some(a), Some(b)) if session::same_token(a, b));
    if !token_ok {
        tracing::warn!(%addr, "sign-in without the form's token refused");
        return again(
            StatusCode::FORBIDDEN,
            "the sign-in form has expired: sign in again".into(),
        );
    }
    if let Some(left) = s.sign_ins.locked_for(addr, Instant::now()) {
        tracing::warn!(%addr, "sign-in refused: too many failures from this address");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many failed sign-ins from your address: try again in {} minutes",
                left.as_secs().div_ceil(60)
            ),
        );
    }
    let found = match s.store().user_sign_in(&f.name).await {
        Ok(found) => found,
        Err(e) => return fail_plain(e.into()),
    };
    let hash = found
        .as_ref()
        .map_or_else(|| decoy_hash().to_string(), |(_, h)| h.clone());
    let Ok(place) = s.sign_ins.hashing.clone().acquire_owned().await else {
        return fail_plain(Failure::bad_request("the service is shutting down"));
    };
    let matches = tokio::task::spawn_blocking(move || {
        let _place = place;
        password::verify(&hash, password.expose())
    })
    .await
    .unwrap_or(false);
    let user = match found {
        Some((user, _)) if matches => user,
        _ => {
            s.sign_ins.failed(addr, Instant::now());
            tracing::warn!(%addr, user = %f.name, "sign-in failed");
            return again(
                StatusCode::UNAUTHORIZED,
                "the name or the password is wrong".into(),
            );
        }
    };
    s.sign_ins.succeeded(addr);
    let secret = session::new_secret();
    let started = s
        .store()
        .create_session(
            &session::secret_hash(&secret),
            &user.name,
            &session::new_secret(),
            s.settings.session_idle,
        )
        .await;
    if let Err(e) = started {
        return fail_plain(e.into());
    }
    if let Err(e) = s
        .store()
        .record_sign_in(&user.name, chrono::Utc::now())
        .await
    {
        tracing::warn!(user = %user.name, error = %e, "cannot record a sign-in");
    }
    tracing::info!(%addr, user = %user.name, role = %user.role.as_str(), "signed in to the console");
    let mut r = Redirect::to(&next).into_response();
    set_cookie(&mut r, cookie(COOKIE, secret, s.settings.https));
    set_cookie(&mut r, removal(SIGN_IN_COOKIE, s.settings.https));
    r
}

fn fail_plain(f: Failure) -> Response {
    super::page_error(None, f)
}

#[derive(Deserialize)]
pub(crate) struct SignOutForm {
    csrf: Option<String>,
}

/// `POST /sign-out`: ends the session here and in the store.
pub(crate) async fn sign_out(
    State(s): State<ApiState>,
    operator: Operator,
    Form(f): Form<SignOutForm>,
) -> Response {
    if let Err(failure) = operator.check_csrf(f.csrf.as_deref()) {
        return fail(&operator)(failure);
    }
    if let Err(e) = s.store().remove_session(&operator.secret_hash).await {
        return fail(&operator)(e.into());
    }
    tracing::info!(user = %operator.name, "signed out of the console");
    let mut r = Redirect::to("/sign-in").into_response();
    set_cookie(&mut r, removal(COOKIE, s.settings.https));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_after_its_failures_until_the_window_passes() {
        let s = SignIns::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            s.failed(a, t0);
        }
        assert_eq!(s.locked_for(a, t0), None);
        s.failed(a, t0);
        assert_eq!(s.locked_for(a, t0), Some(FAILURE_WINDOW));
        assert_eq!(s.locked_for(b, t0), None, "another address");
        assert_eq!(
            s.locked_for(a, t0 + FAILURE_WINDOW),
            None,
            "the window passed"
        );
        // A failure after the window starts a new one.
        s.failed(a, t0 + FAILURE_WINDOW);
        assert_eq!(s.locked_for(a, t0 + FAILURE_WINDOW), None);
        s.succeeded(a);
        assert!(s.failures.lock().unwrap().is_empty());
    }
}
