//! The IP Office connector: ucsync's model of the IP Office configuration
//! service (`docs/ip-office-config-api.yaml`), HTTP/JSON through `reqwest`
//! with rustls.
//!
//! An IP Office's configuration is read whole, at one version (its ETag).
//! The connector asks once per job whether the version is still the one
//! the last sync stored — a conditional request that costs one small answer
//! when nothing changed — and reads the whole configuration only when it
//! did. An incremental on an IP Office is therefore a version-checked full
//! read: `changes_since` says "nothing" when the version is unchanged, and
//! asks for every type to be read again (from the one snapshot) when not.

pub mod catalog;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::mpsc;
use ucsync_core::{Object, ObjectId, Password};

use self::catalog::{ModelError, Snapshot, TYPES, TypeSpec};
pub use crate::tls::{self, Trust};
use crate::{Cause, ChangeItem, ChangeSet, ConnectError, Connector, ReadEvent, Result, WriteOp};

/// What the last sync stored: the configuration version it read and the
/// software version at that time. The software version is part of the
/// configuration, so an unchanged configuration version means it is unchanged too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub config_version: String,
    pub software_version: String,
}

/// How to reach one IP Office.
#[derive(Debug, Clone)]
pub struct IpoConfig {
    pub host: String,
    pub port: u16,
    /// The addresses to connect to, resolved and checked by
    /// [`crate::net::resolve`]; empty: `host` is resolved as usual.
    pub addrs: Vec<std::net::SocketAddr>,
    /// A service user in the configuration-read (and, to administer,
    /// configuration-write) rights group.
    pub login: String,
    pub password: Password,
    /// `None`: plain HTTP. Otherwise HTTPS, the certificate checked so.
    pub tls: Option<Trust>,
    /// How long one request may take, its body included.
    pub timeout: Duration,
    pub known: Option<Known>,
}

impl IpoConfig {
    pub fn new(
        host: impl Into<String>,
        port: u16,
        login: impl Into<String>,
        password: Password,
    ) -> Self {
        IpoConfig {
            host: host.into(),
            port,
            addrs: Vec::new(),
            login: login.into(),
            password,
            tls: None,
            timeout: Duration::from_secs(30),
            known: None,
        }
    }
}

impl Known {
    /// From what the store keeps of the last sync: its point and the
    /// version at the last init.
    pub fn from_sync(point: Option<&str>, software_version: Option<&str>) -> Option<Known> {
        Some(Known {
            config_version: point?.to_string(),
            software_version: software_version?.to_string(),
        })
    }
}

/// The configuration version as last checked, and the configuration read at
/// it when it was read.
#[derive(Debug, Clone)]
struct Current {
    config_version: String,
    software_version: String,
    snapshot: Option<Arc<Snapshot>>,
}

#[derive(Debug, Default)]
struct State {
    current: Option<Current>,
    /// `current` was checked by `connect` and no job step has used it yet.
    fresh: bool,
}

/// A connector to one IP Office.
pub struct IpoConnector {
    cfg: IpoConfig,
    http: reqwest::Client,
    base: Url,
    certificate: Arc<Mutex<Option<String>>>,
    state: Mutex<State>,
}

impl std::fmt::Debug for IpoConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpoConnector")
            .field("base", &self.base.as_str())
            .field("login", &self.cfg.login)
            .finish_non_exhaustive()
    }
}

/// The error under this one; an `io::Error` hides the error it wraps from
/// `source()`, so it is looked into.
fn under<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

/// The innermost cause of an error, which says what actually went wrong.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(s) = under(inner) {
        inner = s;
    }
    inner.to_string()
}

/// Whether the HTTP client's error says the server did not speak HTTP:
/// what came back was no HTTP answer. (A connection closed before the
/// answer was complete is a cut, which an HTTP server may cause too.)
fn not_http(cause: &str) -> bool {
    [
        "invalid HTTP",
        "message head is too large",
        // Bytes before any request: a server that speaks first, as SSH does.
        "received unexpected message from connection",
    ]
    .iter()
    .any(|m| cause.contains(m))
}

fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        cur = under(c);
    }
    false
}

impl IpoConnector {
    /// Opens the connector and checks the configuration version at once:
    /// against the version the last sync stored when there is one (one small
    /// answer when unchanged), else by asking the system for its identity.
    pub async fn connect(cfg: IpoConfig) -> Result<IpoConnector> {
        let certificate = Arc::new(Mutex::new(None));
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("ucsync/", env!("CARGO_PKG_VERSION")));
        if let Some(trust) = &cfg.tls {
            let tls =
                tls::client_config(trust, certificate.clone()).map_err(ConnectError::refused)?;
            builder = builder.tls_backend_preconfigured(tls).https_only(true);
        }
        if !cfg.addrs.is_empty() {
            // Exactly the checked addresses: no second lookup, no proxy.
            builder = builder.resolve_to_addrs(&cfg.host, &cfg.addrs).no_proxy();
        }
        let http = builder.build().map_err(|e| {
            ConnectError::refused(format!("cannot set up the HTTP client: {}", cause(&e)))
        })?;
        let scheme = if cfg.tls.is_some() { "https" } else { "http" };
        let host = if cfg.host.contains(':') && !cfg.host.starts_with('[') {
            format!("[{}]", cfg.host)
        } else {
            cfg.host.clone()
        };
        let base =
            Url::parse(&format!("{scheme}://{host}:{}/config/v1/", cfg.port)).map_err(|e| {
                ConnectError::refused(format!("'{}' is not a host name: {e}", cfg.host))
            })?;
        let conn = IpoConnector {
            cfg,
            http,
            base,
            certificate,
            state: Mutex::new(State::default()),
        };
        conn.check_version().await?;
        conn.state.lock().expect("state").fresh = true;
        Ok(conn)
    }

    fn at(&self) -> String {
        format!("the IP Office at {}:{}", self.cfg.host, self.cfg.port)
    }

    fn url(&self, parts: &[&str]) -> Url {
        let mut u = self.base.clone();
        {
            let mut segs = u.path_segments_mut().expect("an http URL has a path");
            segs.pop_if_empty();
            for p in parts {
                segs.push(p);
            }
        }
        u
    }

    fn transport(&self, e: reqwest::Error, doing: &str) -> ConnectError {
        let at = self.at();
        let why = cause(&e);
        let (failure, message): (fn(Cause) -> ConnectError, String) = if e.is_timeout() {
            (
                ConnectError::Unreachable,
                format!(
                    "{at} did not answer within {} s while {doing}",
                    self.cfg.timeout.as_secs_f64()
                ),
            )
        } else if is_tls(&e) {
            let pinned = self.cfg.tls.as_ref();
            let failure = if pinned.is_some_and(|t| t.pin_refused(&self.certificate)) {
                ConnectError::IdentityMismatch
            } else {
                ConnectError::Refused
            };
            (
                failure,
                format!("TLS with {at} failed while {doing}: {why}"),
            )
        } else if e.is_connect() {
            (
                ConnectError::Unreachable,
                format!("cannot connect to {at} while {doing}: {why}"),
            )
        } else if not_http(&why) {
            (
                ConnectError::Protocol,
                format!(
                    "{at} did not answer as an HTTP server while {doing} ({why}); the IP Office configuration service is usually on port 50804 (50805 with TLS): check the element's port"
                ),
            )
        } else {
            (
                ConnectError::Protocol,
                format!("the connection to {at} was cut while {doing}: {why}"),
            )
        };
        failure(Cause::with_source(message, e))
    }

    /// One request; an error status becomes an error that names its cause,
    /// except the statuses the caller handles itself.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        doing: &str,
        handled: &[StatusCode],
    ) -> Result<reqwest::Response> {
        let resp = req
            .basic_auth(&self.cfg.login, Some(self.cfg.password.expose()))
            .send()
            .await
            .map_err(|e| self.transport(e, doing))?;
        let status = resp.status();
        if status.is_success() || handled.contains(&status) {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        let said = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        let login = &self.cfg.login;
        Err(match status {
            StatusCode::UNAUTHORIZED => ConnectError::login_refused(format!(
                "{} refused service user '{login}' while {doing} (401 Unauthorized): check the element's login and password",
                self.at()
            )),
            StatusCode::FORBIDDEN => ConnectError::refused(format!(
                "{} does not let service user '{login}' do this while {doing} (403 Forbidden: {said}): give it the configuration-read and, to administer, configuration-write rights groups",
                self.at()
            )),
            s if s.is_server_error() => ConnectError::protocol(format!(
                "{} failed while {doing}: {s}{}",
                self.at(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            )),
            s => ConnectError::refused(format!(
                "{} refused this while {doing} ({s}): {said}",
                self.at()
            )),
        })
    }

    async fn body(&self, resp: reqwest::Response, doing: &str) -> Result<bytes::Bytes> {
        resp.bytes().await.map_err(|e| self.transport(e, doing))
    }

    fn model_error(&self, e: ModelError, doing: &str) -> ConnectError {
        ConnectError::protocol(match e {
            ModelError::Json(m) => format!("{} sent invalid JSON while {doing}: {m}", self.at()),
            ModelError::Model(m) => format!(
                "{} sent a configuration that does not match the model while {doing}: {m}",
                self.at()
            ),
        })
    }

    /// A 200 answer of `GET /configuration`: the snapshot and its version.
    async fn configuration_of(&self, resp: reqwest::Response, doing: &str) -> Result<Current> {
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_start_matches("W/").trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ConnectError::protocol(format!(
                    "{} sent its configuration without a version (ETag) while {doing}",
                    self.at()
                ))
            })?;
        let body = self.body(resp, doing).await?;
        let snapshot =
            catalog::parse_configuration(&body).map_err(|e| self.model_error(e, doing))?;
        Ok(Current {
            config_version: etag,
            software_version: snapshot.system.software_version.clone(),
            snapshot: Some(Arc::new(snapshot)),
        })
    }

    /// Asks whether the configuration is still at the version last seen (or
    /// stored by the last sync); reads it whole only when it is not.
    async fn check_version(&self) -> Result<Current> {
        let known = {
            let st = self.state.lock().expect("state");
            st.current.clone()
        }
        .or_else(|| {
            self.cfg.known.as_ref().map(|k| Current {
                config_version: k.config_version.clone(),
                software_version: k.software_version.clone(),
                snapshot: None,
            })
        });
        let now = match known {
            Some(k) => {
                let doing = "checking the configuration version";
                let resp = self
                    .send(
                        self.http
                            .get(self.url(&["configuration"]))
                            .header(IF_NONE_MATCH, format!("\"{}\"", k.config_version)),
                        doing,
                        &[StatusCode::NOT_MODIFIED],
                    )
                    .await?;
                if resp.status() == StatusCode::NOT_MODIFIED {
                    k
                } else {
                    self.configuration_of(resp, "reading the configuration")
                        .await?
                }
            }
            None => {
                let doing = "asking the system for its identity";
                let resp = self
                    .send(self.http.get(self.url(&["system"])), doing, &[])
                    .await?;
                let body = self.body(resp, doing).await?;
                let v: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| self.model_error(ModelError::Json(e.to_string()), doing))?;
                let s = catalog::system(&v).map_err(|e| {
                    self.model_error(ModelError::Model(format!("system: {e}")), doing)
                })?;
                Current {
                    config_version: s.config_version,
                    software_version: s.software_version,
                    snapshot: None,
                }
            }
        };
        self.state.lock().expect("state").current = Some(now.clone());
        Ok(now)
    }

    /// The configuration as last checked, read whole if it was not yet.
    async fn snapshot(&self) -> Result<(String, Arc<Snapshot>)> {
        let cur = self.state.lock().expect("state").current.clone();
        if let Some(Current {
            config_version,
            snapshot: Some(s),
            ..
        }) = cur
        {
            return Ok((config_version, s));
        }
        let doing = "reading the configuration";
        let resp = self
            .send(self.http.get(self.url(&["configuration"])), doing, &[])
            .await?;
        let now = self.configuration_of(resp, doing).await?;
        let snapshot = now.snapshot.clone().expect("a full read has a snapshot");
        let version = now.config_version.clone();
        self.state.lock().expect("state").current = Some(now);
        Ok((version, snapshot))
    }

    fn spec(&self, object_type: &str) -> Result<&'static TypeSpec> {
        catalog::by_type(object_type)
            .ok_or_else(|| ConnectError::UnknownType(object_type.to_string()))
    }

    async fn send_type(
        t: &TypeSpec,
        snapshot: &Snapshot,
        out: &mpsc::Sender<ReadEvent>,
    ) -> Result<()> {
        Self::expect(t, snapshot, out).await?;
        Self::send_objects(t, snapshot, out).await
    }

    async fn expect(
        t: &TypeSpec,
        snapshot: &Snapshot,
        out: &mpsc::Sender<ReadEvent>,
    ) -> Result<()> {
        out.send(ReadEvent::Expect {
            object_type: t.object_type.to_string(),
            count: snapshot.objects[t.object_type].len() as u64,
        })
        .await
        .map_err(|_| ConnectError::protocol("the reader stopped"))
    }

    async fn send_objects(
        t: &TypeSpec,
        snapshot: &Snapshot,
        out: &mpsc::Sender<ReadEvent>,
    ) -> Result<()> {
        for o in &snapshot.objects[t.object_type] {
            out.send(ReadEvent::Object(o.clone()))
                .await
                .map_err(|_| ConnectError::protocol("the reader stopped"))?;
        }
        Ok(())
    }

    /// An object as the service answered it after a write or a read of one.
    async fn object_of(
        &self,
        t: &TypeSpec,
        resp: reqwest::Response,
        doing: &str,
    ) -> Result<Object> {
        let body = self.body(resp, doing).await?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| self.model_error(ModelError::Json(e.to_string()), doing))?;
        let o = v.as_object().ok_or_else(|| {
            self.model_error(
                ModelError::Model(format!("a {} is not a JSON object", t.object_type)),
                doing,
            )
        })?;
        t.object(o).map_err(|e| {
            self.model_error(ModelError::Model(format!("{}: {e}", t.object_type)), doing)
        })
    }
}

#[async_trait]
impl Connector for IpoConnector {
    async fn version(&self) -> Result<String> {
        let fresh = {
            let mut st = self.state.lock().expect("state");
            let cur = st.current.clone().filter(|_| st.fresh);
            st.fresh = false;
            cur
        };
        match fresh {
            Some(c) => Ok(c.software_version),
            None => Ok(self.check_version().await?.software_version),
        }
    }

    async fn sync_point(&self) -> Result<String> {
        // The version of the very snapshot `read_all` sends.
        self.state.lock().expect("state").fresh = false;
        Ok(self.snapshot().await?.0)
    }

    async fn read_all(&self, out: mpsc::Sender<ReadEvent>) -> Result<()> {
        let (_, snapshot) = self.snapshot().await?;
        // Every total first, from the one snapshot: progress knows what to
        // expect before the first object.
        for t in TYPES {
            Self::expect(t, &snapshot, &out).await?;
        }
        for t in TYPES {
            Self::send_objects(t, &snapshot, &out).await?;
        }
        Ok(())
    }

    async fn read_type(&self, object_type: &str, out: mpsc::Sender<ReadEvent>) -> Result<()> {
        let t = self.spec(object_type)?;
        let (_, snapshot) = self.snapshot().await?;
        Self::send_type(t, &snapshot, &out).await
    }

    async fn changes_since(&self, point: &str, _own_logins: &[String]) -> Result<ChangeSet> {
        // The version checked when this job connected (or asked for the
        // software version) is the one compared: no second request.
        let cur = {
            let mut st = self.state.lock().expect("state");
            st.fresh = false;
            st.current.clone()
        };
        let cur = match cur {
            Some(c) => c,
            None => self.check_version().await?,
        };
        let what = "an incremental on an IP Office is a version-checked full read";
        if cur.config_version == point {
            return Ok(ChangeSet {
                new_point: point.to_string(),
                report: Some(format!(
                    "{what}: the configuration version \"{point}\" is unchanged since the last sync, so there is nothing to do"
                )),
                ..ChangeSet::default()
            });
        }
        let (now, _) = self.snapshot().await?;
        let why = format!("the configuration version changed from \"{point}\" to \"{now}\"");
        Ok(ChangeSet {
            report: Some(format!(
                "{what}: {why}, so the whole configuration was read and its difference is applied"
            )),
            items: TYPES
                .iter()
                .map(|t| ChangeItem::Type {
                    object_type: t.object_type.to_string(),
                    why: why.clone(),
                })
                .collect(),
            new_point: now,
            ..ChangeSet::default()
        })
    }

    async fn read_one(&self, id: &ObjectId) -> Result<Option<Object>> {
        let t = self.spec(&id.object_type)?;
        let doing = format!("reading {id}");
        let resp = self
            .send(
                self.http.get(self.url(&[t.path, &id.key])),
                &doing,
                &[StatusCode::NOT_FOUND],
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(self.object_of(t, resp, &doing).await?))
    }

    async fn write_one(&self, op: &WriteOp) -> Result<Option<Object>> {
        let (WriteOp::Add { id, .. } | WriteOp::Change { id, .. } | WriteOp::Remove { id }) = op;
        let t = self.spec(&id.object_type)?;
        t.key_grammar.check(t.object_type, &id.key)?;
        let (t, req, doing) = match op {
            WriteOp::Add { id, fields } => {
                let t = self.spec(&id.object_type)?;
                let body = t.new_json(&id.key, fields).map_err(ConnectError::refused)?;
                (
                    t,
                    self.http.post(self.url(&[t.path])).json(&body),
                    format!("adding {id}"),
                )
            }
            WriteOp::Change { id, fields } => {
                let t = self.spec(&id.object_type)?;
                t.check_change(&id.key, fields)
                    .map_err(ConnectError::refused)?;
                let body = serde_json::to_vec(&t.json(fields).map_err(ConnectError::refused)?)
                    .expect("JSON");
                let req = self
                    .http
                    .request(Method::PATCH, self.url(&[t.path, &id.key]))
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/merge-patch+json",
                    )
                    .body(body);
                (t, req, format!("changing {id}"))
            }
            WriteOp::Remove { id } => {
                let t = self.spec(&id.object_type)?;
                (
                    t,
                    self.http.delete(self.url(&[t.path, &id.key])),
                    format!("removing {id}"),
                )
            }
        };
        let resp = self.send(req, &doing, &[]).await;
        // Whatever happened, the configuration may have changed: check again next time.
        self.state.lock().expect("state").current = None;
        let resp = resp?;
        if resp.status() == StatusCode::NO_CONTENT || matches!(op, WriteOp::Remove { .. }) {
            return Ok(None);
        }
        Ok(Some(self.object_of(t, resp, &doing).await?))
    }

    fn fingerprint(&self) -> Option<String> {
        self.certificate.lock().expect("fingerprint").clone()
    }

    fn secret_fields(&self, object_type: &str) -> Vec<String> {
        catalog::by_type(object_type)
            .map(|t| {
                t.fields
                    .iter()
                    .filter(|f| f.secret)
                    .map(|f| f.name.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn display_name(&self, object: &Object) -> Option<String> {
        let t = catalog::by_type(&object.id.object_type)?;
        object
            .fields
            .get(t.name?)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }

    async fn close(&self) {}
}
