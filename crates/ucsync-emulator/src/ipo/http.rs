//! The configuration service over HTTP (and HTTPS): routes, Basic
//! authentication per rights group, the configuration version as ETag, and
//! the faults a test can ask for.

// A refusal is the answer itself (`Err(Response)`): boxing it would buy
// nothing in an emulator but noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use super::model::{
    Data, Extension, HuntGroup, Identity, IncomingCallRoute, Kind, Refusal, ShortCode, User,
};
use super::{Faults, Rights, Served};

/// The configuration and its version, kept together.
#[derive(Debug)]
pub(crate) struct Office {
    pub identity: Identity,
    pub data: Data,
    pub version: String,
    /// The body of `GET /configuration` for `version`, built once per change.
    pub body: Bytes,
    pub state_file: Option<std::path::PathBuf>,
}

impl Office {
    pub(super) fn new(
        identity: Identity,
        data: Data,
        state_file: Option<std::path::PathBuf>,
    ) -> Office {
        let mut o = Office {
            identity,
            data,
            version: String::new(),
            body: Bytes::new(),
            state_file,
        };
        o.refresh();
        o
    }

    /// After a change: the new version and body, and the state file.
    fn refresh(&mut self) {
        self.version = self.data.version(&self.identity);
        self.body = Bytes::from(self.data.to_json(&self.identity, &self.version));
        if let Some(p) = &self.state_file
            && let Err(e) = self.data.save(&self.identity, p)
        {
            tracing::warn!(error = %e, "cannot save the IP Office state");
        }
    }

    fn etag(&self) -> HeaderValue {
        HeaderValue::from_str(&format!("\"{}\"", self.version)).expect("hex is a header value")
    }

    /// Changes the software version (an upgrade), which changes the configuration version.
    pub(super) fn set_software_version(&mut self, v: &str) {
        self.identity.software_version = v.to_string();
        self.refresh();
    }
}

pub(crate) struct Shared {
    pub office: RwLock<Office>,
    pub logins: HashMap<String, (String, Rights)>,
    pub faults: Mutex<Faults>,
    pub served: Mutex<Vec<Served>>,
    pub cancel: CancellationToken,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message.into()}});
    let mut r = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"IP Office\""),
        );
    }
    r
}

fn refusal(r: Refusal) -> Response {
    match r {
        Refusal::BadRequest(m) => error(StatusCode::BAD_REQUEST, "bad-request", m),
        Refusal::NotFound(m) => error(StatusCode::NOT_FOUND, "not-found", m),
        Refusal::Conflict(m) => error(StatusCode::CONFLICT, "conflict", m),
    }
}

/// Basic authentication, then the rights group the method needs.
fn authorize(shared: &Shared, headers: &HeaderMap, method: &Method) -> Result<(), Response> {
    let unauthorized = || {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a service user name and password are needed (HTTP Basic)",
        )
    };
    let creds = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(unauthorized)?;
    let (name, password) = creds.split_once(':').ok_or_else(unauthorized)?;
    let Some((expected, rights)) = shared.logins.get(name) else {
        return Err(unauthorized());
    };
    if expected != password {
        return Err(unauthorized());
    }
    let write = !matches!(*method, Method::GET | Method::HEAD);
    let allowed = if write { rights.write } else { rights.read };
    if !allowed {
        let group = if write {
            "configuration-write"
        } else {
            "configuration-read"
        };
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("service user {name} is not in the {group} rights group"),
        ));
    }
    Ok(())
}

/// How many answered requests are kept for `IpoEmulator::served`.
const MAX_SERVED: usize = 100_000;

async fn log_and_authorize(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = match authorize(&shared, req.headers(), &method) {
        Ok(()) => next.run(req).await,
        Err(r) => r,
    };
    let mut served = shared.served.lock().expect("served");
    // A lab emulator may run for weeks: keep the recent requests only.
    if served.len() >= MAX_SERVED {
        served.drain(..MAX_SERVED / 2);
    }
    served.push(Served {
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
        body_bytes: response.body().size_hint().exact(),
    });
    drop(served);
    response
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut r = Router::new()
        .route("/config/v1/system", get(system))
        .route("/config/v1/configuration", get(configuration));
    r = routes::<User>(r);
    r = routes::<Extension>(r);
    r = routes::<HuntGroup>(r);
    r = routes::<ShortCode>(r);
    r = routes::<IncomingCallRoute>(r);
    r.fallback(|| async { error(StatusCode::NOT_FOUND, "not-found", "no such resource") })
        .layer(from_fn_with_state(shared.clone(), log_and_authorize))
        .with_state(shared)
}

fn routes<T: Kind>(r: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    r.route(&format!("/config/v1/{}", T::PATH), post(create::<T>))
        .route(
            &format!("/config/v1/{}/{{key}}", T::PATH),
            get(one::<T>)
                .put(replace::<T>)
                .patch(patch::<T>)
                .delete(remove::<T>),
        )
}

async fn system(State(shared): State<Arc<Shared>>) -> Response {
    let o = shared.office.read().expect("office");
    axum::Json(serde_json::json!({
        "name": o.identity.name,
        "serial": o.identity.serial,
        "software_version": o.identity.software_version,
        "config_version": o.version,
    }))
    .into_response()
}

/// Whether an `If-None-Match` (or `If-Match`) value names this version.
fn names_version(value: &str, version: &str) -> bool {
    value.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.trim_start_matches("W/").trim_matches('"') == version
    })
}

async fn configuration(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let faults = shared.faults.lock().expect("faults").clone();
    if faults.stall {
        // No answer until the emulator stops; the client's timeout is what ends it.
        shared.cancel.cancelled().await;
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the emulator is stopping",
        );
    }
    if let Some(status) = faults.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, "fault", "an injected fault");
    }
    let (version, etag, body) = {
        let o = shared.office.read().expect("office");
        (o.version.clone(), o.etag(), o.body.clone())
    };
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| names_version(v, &version));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let headers = [
        (header::ETAG, etag),
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
    ];
    if let Some(field) = &faults.missing_field {
        let mut v: serde_json::Value = serde_json::from_slice(&body).expect("own JSON");
        if let Some(o) = v.as_object_mut() {
            for part in o.values_mut() {
                match part {
                    serde_json::Value::Array(items) => {
                        for item in items {
                            if let Some(item) = item.as_object_mut() {
                                item.remove(field);
                            }
                        }
                    }
                    serde_json::Value::Object(item) => {
                        item.remove(field);
                    }
                    _ => {}
                }
            }
        }
        return (headers, serde_json::to_vec(&v).expect("JSON")).into_response();
    }
    if faults.invalid_json {
        let mut garbled = body[..body.len() / 2].to_vec();
        garbled.extend_from_slice(b"\x00}]");
        return (headers, garbled).into_response();
    }
    if let Some(n) = faults.cut_after_bytes {
        let part = body.slice(..n.min(body.len()));
        let stream = futures::stream::iter([
            Ok::<Bytes, std::io::Error>(part),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "an injected fault: connection cut",
            )),
        ]);
        return (headers, Body::from_stream(stream)).into_response();
    }
    (headers, body).into_response()
}

fn check_if_match(o: &Office, headers: &HeaderMap) -> Result<(), Response> {
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(v) if !names_version(v, &o.version) => Err(error(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            format!(
                "the configuration changed since version {v}: it is now \"{}\"",
                o.version
            ),
        )),
        _ => Ok(()),
    }
}

fn written<T: Kind>(o: &Office, status: StatusCode, obj: &T) -> Response {
    (status, [(header::ETAG, o.etag())], axum::Json(obj)).into_response()
}

fn parse<T: Kind>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("the body is not a {}: {e}", T::PATH),
        )
    })
}

async fn one<T: Kind>(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Response {
    let o = shared.office.read().expect("office");
    match T::map(&o.data).get(&key) {
        Some(obj) => axum::Json(obj).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no {} '{key}'", T::PATH),
        ),
    }
}

async fn create<T: Kind>(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let obj: T = match parse(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut o = shared.office.write().expect("office");
    if let Err(r) = check_if_match(&o, &headers) {
        return r;
    }
    let key = obj.key();
    if T::map(&o.data).contains_key(&key) {
        return error(
            StatusCode::CONFLICT,
            "conflict",
            format!("{} '{key}' exists", T::PATH),
        );
    }
    if let Err(r) = obj.check(&o.data) {
        return refusal(r);
    }
    T::map_mut(&mut o.data).insert(key, obj.clone());
    o.refresh();
    written(&o, StatusCode::CREATED, &obj)
}

fn store<T: Kind>(shared: &Shared, headers: &HeaderMap, key: &str, obj: T) -> Response {
    let mut o = shared.office.write().expect("office");
    if let Err(r) = check_if_match(&o, headers) {
        return r;
    }
    if !T::map(&o.data).contains_key(key) {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no {} '{key}'", T::PATH),
        );
    }
    if obj.key() != key {
        return error(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!(
                "the key of {} '{key}' cannot change (the body says '{}')",
                T::PATH,
                obj.key()
            ),
        );
    }
    if let Err(r) = obj.check(&o.data) {
        return refusal(r);
    }
    T::map_mut(&mut o.data).insert(key.to_string(), obj.clone());
    o.refresh();
    written(&o, StatusCode::OK, &obj)
}

async fn replace<T: Kind>(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match parse::<T>(&body) {
        Ok(obj) => store(&shared, &headers, &key, obj),
        Err(r) => r,
    }
}

/// A JSON merge patch (RFC 7396) of the object's top-level fields.
async fn patch<T: Kind>(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let changes: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad-request",
                format!("a merge patch is a JSON object: {e}"),
            );
        }
    };
    let current = {
        let o = shared.office.read().expect("office");
        T::map(&o.data).get(&key).cloned()
    };
    let Some(current) = current else {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no {} '{key}'", T::PATH),
        );
    };
    let mut v = serde_json::to_value(&current).expect("own JSON");
    let fields = v.as_object_mut().expect("objects are JSON objects");
    for (f, value) in changes {
        fields.insert(f, value);
    }
    match serde_json::from_value::<T>(v) {
        Ok(obj) => store(&shared, &headers, &key, obj),
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("the patched {} is not valid: {e}", T::PATH),
        ),
    }
}

async fn remove<T: Kind>(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut o = shared.office.write().expect("office");
    if let Err(r) = check_if_match(&o, &headers) {
        return r;
    }
    if !T::map(&o.data).contains_key(&key) {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no {} '{key}'", T::PATH),
        );
    }
    if let Some(why) = T::in_use(&key, &o.data) {
        return error(StatusCode::CONFLICT, "in-use", why);
    }
    T::map_mut(&mut o.data).remove(&key);
    o.refresh();
    (StatusCode::NO_CONTENT, [(header::ETAG, o.etag())]).into_response()
}

/// Accepts TCP connections and hands on those whose TLS handshake
/// succeeded; handshakes run in parallel so a slow client holds up no one.
pub(crate) struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    pub(super) fn new(
        tcp: TcpListener,
        acceptor: TlsAcceptor,
        cancel: CancellationToken,
    ) -> TlsListener {
        let addr = tcp.local_addr().expect("a bound listener has an address");
        let (tx, incoming) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    r = tcp.accept() => match r {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = cancel.cancelled() => return,
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    match hs.await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener { incoming, addr }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(c) => c,
            // The acceptor stopped: serve nothing more, and wait to be shut down.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
