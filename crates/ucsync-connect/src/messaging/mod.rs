//! The messaging connector: Aura Messaging, CM Messaging and Modular
//! Messaging subscribers, read from their LDAP directories (LDAP or LDAPS,
//! simple bind) through the `ldap3` client.
//!
//! An init reads every subscriber with a paged search (RFC 2696), so no
//! server size limit cuts it short. An incremental asks for the subscribers
//! whose `modifyTimestamp` is at or after the boundary second of the last
//! sync point — the server's clock, never ucsync's: its root DSE
//! `currentTime` where it publishes one, else the newest `modifyTimestamp`
//! — and lists every key, so the engine finds the deletions (a directory
//! keeps no record of them).

pub mod catalog;
pub mod point;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, Mod, Scope, SearchEntry, SearchStream,
};
use tokio::sync::mpsc;
use ucsync_core::{Fields, Object, ObjectId, Password};

use self::catalog::{LINK_CM, LINK_STATION, Product};
use self::point::{LdapPoint, parse_time};
use crate::tls::{self, Trust};
use crate::{
    Cause, ChangeItem, ChangeSet, ConnectError, Connector, KeyListing, ReadEvent, Result, WriteOp,
};

/// The one object type of a messaging system.
pub const SUBSCRIBER: &str = "subscriber";

/// How to reach and read one messaging directory.
#[derive(Clone)]
pub struct LdapConfig {
    pub host: String,
    pub port: u16,
    /// The addresses to connect to, resolved and checked by
    /// [`crate::net::resolve`]; empty: `host` is resolved as usual.
    pub addrs: Vec<std::net::SocketAddr>,
    /// The bind DN (the element's login).
    pub bind_dn: String,
    pub password: Password,
    /// LDAPS (TLS from the first byte), and how the certificate is checked.
    pub tls: Option<Trust>,
    /// How long to wait for the connection and for each answer.
    pub timeout: Duration,
    /// Entries per page of a paged search.
    pub page_size: i32,
    /// The CM whose stations the subscribers link to.
    pub link_cm: Option<String>,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("bind_dn", &self.bind_dn)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl LdapConfig {
    pub fn new(
        host: impl Into<String>,
        port: u16,
        bind_dn: impl Into<String>,
        password: Password,
    ) -> Self {
        LdapConfig {
            host: host.into(),
            port,
            addrs: Vec::new(),
            bind_dn: bind_dn.into(),
            password,
            tls: None,
            timeout: Duration::from_secs(30),
            page_size: 1000,
            link_cm: None,
        }
    }

    fn url(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.tls.is_some() { "ldaps" } else { "ldap" };
        format!("{scheme}://{host}:{}", self.port)
    }
}

/// A connector to one messaging system.
pub struct MessagingConnector {
    ldap: Ldap,
    cfg: LdapConfig,
    product: Arc<Product>,
    /// The fingerprint of the certificate the server presented (LDAPS).
    seen: tls::Seen,
    /// The subscribers an incremental's search already read whole, handed
    /// to the engine's `read_one` instead of a search each (read after the
    /// point was taken, so as good as a read then).
    prefetched: std::sync::Mutex<HashMap<String, Object>>,
    /// How many subscribers the listing of the last sync point found: what
    /// an init's read then expects.
    listed: std::sync::Mutex<Option<u64>>,
    driver: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MessagingConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagingConnector")
            .field("cfg", &self.cfg)
            .field("product", &self.product.product)
            .finish_non_exhaustive()
    }
}

const READING: &str = "reading subscribers";

/// More subscribers than this changed in one second is a bulk change.
const BULK: usize = 500;

/// A paged search under way.
struct Paged(SearchStream<'static, String, Vec<String>>);

impl Paged {
    /// The next entry; `None` when the search has ended well.
    async fn next(&mut self) -> Result<Option<SearchEntry>> {
        match self.0.next().await {
            Ok(Some(e)) => Ok(Some(SearchEntry::construct(e))),
            Ok(None) => {
                let done = self.0.finish().await;
                done.success().map_err(|e| protocol(READING, e))?;
                Ok(None)
            }
            Err(e) => {
                let _ = self.0.finish().await;
                Err(protocol(READING, e))
            }
        }
    }
}

/// Where a messaging directory usually listens, for errors about a port
/// that does not answer as one.
const LDAP_PORTS: &str =
    "; a messaging directory is usually on port 389 (636 with TLS): check the element's port";

/// An LDAP error while talking to a server that did answer.
fn protocol(what: &str, e: LdapError) -> ConnectError {
    let message = match &e {
        LdapError::Timeout { .. } => format!("{what}: the directory stopped answering"),
        LdapError::EndOfStream | LdapError::Io { .. } => {
            format!("{what}: the directory closed the connection ({e})")
        }
        LdapError::LdapResult { result } => format!(
            "{what}: the directory answered {} ({})",
            result.rc,
            result.text.trim()
        ),
        e => format!("{what}: {e}"),
    };
    ConnectError::Protocol(Cause::with_source(message, e))
}

impl MessagingConnector {
    /// Connects and binds.
    pub async fn connect(cfg: LdapConfig, product: Arc<Product>) -> Result<MessagingConnector> {
        let seen: tls::Seen = Arc::default();
        let mut settings = LdapConnSettings::new().set_conn_timeout(cfg.timeout);
        if let Some(trust) = &cfg.tls {
            let config = tls::client_config(trust, seen.clone()).map_err(ConnectError::refused)?;
            settings = settings.set_config(Arc::new(config));
        }
        let url = cfg.url();
        if !cfg.addrs.is_empty() {
            // Exactly the checked addresses: the client does not look the name up again.
            let stream = crate::net::connect_tcp(&cfg.addrs, cfg.timeout)
                .await
                .and_then(|s| s.into_std())
                .map_err(|e| ConnectError::unreachable(format!("{url} does not answer: {e}")))?;
            settings = settings.set_std_stream(ldap3::StdStream::Tcp(stream));
        }
        let (conn, mut ldap) = match LdapConnAsync::with_settings(settings, &url).await {
            Ok(c) => c,
            Err(e) => {
                let pin_refused = cfg.tls.as_ref().is_some_and(|t| t.pin_refused(&seen));
                let seen = seen.lock().expect("seen").clone();
                return Err(match (&e, seen) {
                    (_, Some(fp)) => {
                        let message = format!(
                            "TLS with {url} failed: {e}; the server presented {fp}: set ca_file, or pin it as host_key if it is the right one"
                        );
                        if pin_refused {
                            ConnectError::IdentityMismatch(Cause::with_source(message, e))
                        } else {
                            ConnectError::Refused(Cause::with_source(message, e))
                        }
                    }
                    (
                        LdapError::Io { .. } | LdapError::Timeout { .. } | LdapError::EndOfStream,
                        None,
                    ) => {
                        let message = format!("{url} does not answer: {e}");
                        ConnectError::Unreachable(Cause::with_source(message, e))
                    }
                    (_, None) => {
                        let message = format!("cannot connect to {url}: {e}");
                        ConnectError::Unreachable(Cause::with_source(message, e))
                    }
                });
            }
        };
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        let bound = ldap
            .with_timeout(cfg.timeout)
            .simple_bind(&cfg.bind_dn, cfg.password.expose())
            .await;
        let result = match bound {
            Ok(r) => r,
            Err(e) => {
                driver.abort();
                return Err(match e {
                    LdapError::Timeout { .. } => ConnectError::unreachable(format!(
                        "{url} does not answer the bind{LDAP_PORTS}"
                    )),
                    // An answer, but no LDAP one: another service on that port.
                    e @ LdapError::LdapResult { .. } => protocol("bind", e),
                    e => ConnectError::protocol(format!(
                        "{url} did not answer as an LDAP server ({e}){LDAP_PORTS}"
                    )),
                });
            }
        };
        if result.rc != 0 {
            driver.abort();
            return Err(ConnectError::login_refused(format!(
                "the directory at {url} refused the bind as '{}': {} (result {}): check the element's login and password",
                cfg.bind_dn,
                if result.rc == 49 {
                    "invalid credentials".to_string()
                } else {
                    result.text.trim().to_string()
                },
                result.rc
            )));
        }
        Ok(MessagingConnector {
            ldap,
            cfg,
            product,
            seen,
            prefetched: std::sync::Mutex::default(),
            listed: std::sync::Mutex::default(),
            driver,
        })
    }

    pub fn product(&self) -> &Product {
        &self.product
    }

    /// Starts a paged search of the subscribers.
    async fn paged(&self, filter: &str, attrs: Vec<String>) -> Result<Paged> {
        let mut ldap = self.ldap.clone();
        ldap.with_timeout(self.cfg.timeout);
        let adapters: Vec<Box<dyn Adapter<'static, String, Vec<String>>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.cfg.page_size)),
        ];
        let stream = ldap
            .streaming_search_with(adapters, &self.product.base, Scope::OneLevel, filter, attrs)
            .await
            .map_err(|e| protocol(READING, e))?;
        Ok(Paged(stream))
    }

    /// The value of an attribute, whatever case the server wrote its name in.
    fn value<'e>(entry: &'e SearchEntry, attr: &str) -> Option<&'e str> {
        entry
            .attrs
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// A subscriber's key: its key attribute, or the value of its RDN.
    fn key_of(&self, entry: &SearchEntry) -> Option<String> {
        Self::value(entry, &self.product.key)
            .map(str::to_string)
            .or_else(|| {
                let rdn = entry.dn.split(',').next()?;
                let (a, v) = rdn.split_once('=')?;
                a.trim()
                    .eq_ignore_ascii_case(&self.product.key)
                    .then(|| v.trim().to_string())
            })
    }

    fn object(&self, entry: &SearchEntry) -> Option<Object> {
        let key = self.key_of(entry)?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (attr, values) in &entry.attrs {
            if let Some(field) = self.product.field_of(attr) {
                pairs.push((field.to_string(), values.join("\n")));
            }
        }
        if let Some(cm) = &self.cfg.link_cm
            && let Some(ext) = Self::value(entry, &self.product.station).filter(|e| !e.is_empty())
        {
            pairs.push((LINK_CM.into(), cm.clone()));
            pairs.push((LINK_STATION.into(), ext.to_string()));
        }
        Some(Object {
            id: ObjectId::new(SUBSCRIBER, key),
            fields: Fields::new(pairs),
        })
    }

    /// Every subscriber's key with its `modifyTimestamp`.
    async fn listing(&self) -> Result<Vec<(String, String)>> {
        let attrs = vec![self.product.key.clone(), "modifyTimestamp".to_string()];
        let mut out = Vec::new();
        let mut s = self.paged(&self.product.filter(), attrs).await?;
        while let Some(e) = s.next().await? {
            if let Some(k) = self.key_of(&e) {
                let ts = Self::value(&e, "modifyTimestamp").unwrap_or("").to_string();
                out.push((k, ts));
            }
        }
        Ok(out)
    }

    /// The newest timestamp among `(key, timestamp)` pairs, with its key.
    fn newest<'a>(
        rows: impl Iterator<Item = &'a (String, String)>,
    ) -> Result<Option<(DateTime<Utc>, String)>> {
        let mut best: Option<(DateTime<Utc>, &'a String)> = None;
        for row in rows {
            let t = parse_time(&row.1).ok_or_else(|| {
                ConnectError::protocol(format!(
                    "subscriber {} has no valid modifyTimestamp ('{}'): the directory must maintain it",
                    row.0, row.1
                ))
            })?;
            if best.is_none_or(|(b, _)| t > b) {
                best = Some((t, &row.0));
            }
        }
        Ok(best.map(|(t, k)| (t, k.clone())))
    }

    /// The server's clock, from its root DSE `currentTime`, where it has one.
    async fn server_time(&self) -> Result<Option<DateTime<Utc>>> {
        let what = "reading the root DSE";
        let r = self
            .ldap()
            .search("", Scope::Base, "(objectClass=*)", vec!["currentTime"])
            .await
            .map_err(|e| protocol(what, e))?;
        let (entries, _) = r.success().map_err(|e| protocol(what, e))?;
        Ok(entries
            .into_iter()
            .map(SearchEntry::construct)
            .find_map(|e| Self::value(&e, "currentTime").and_then(parse_time)))
    }

    /// A sync point from a listing of every subscriber, taken now. With the
    /// server's time the boundary is its current second; without it, the
    /// newest `modifyTimestamp`. The next incremental reads that second again.
    /// An init (`settle`) that finds a bulk change in this very second waits
    /// for the next one, so the bulk — a whole directory loaded at once, say —
    /// is not read again as more than an incremental may apply; an
    /// incremental never waits (what it reads again next time is at most what
    /// it just applied).
    async fn point(&self, listing: &[(String, String)], settle: bool) -> Result<LdapPoint> {
        let newest = Self::newest(listing.iter())?;
        let mut now = self.server_time().await?;
        // The subscribers of the newest second are read again next time: a
        // few are cheap, a bulk load is worth waiting for the second to turn.
        let in_newest = newest.as_ref().map_or(0, |(t, _)| {
            listing
                .iter()
                .filter(|(_, ts)| parse_time(ts).is_some_and(|x| x >= *t))
                .count()
        });
        if let (Some((t, _)), Some(_), true) = (&newest, now, settle && in_newest > BULK) {
            let until = std::time::Instant::now() + Duration::from_secs(3);
            while now.is_some_and(|n| n <= *t) && std::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(200)).await;
                now = self.server_time().await?;
            }
        }
        let boundary = match (now, &newest) {
            (Some(n), _) => Some(n),
            (None, Some((t, _))) => Some(*t),
            (None, None) => None,
        };
        Ok(LdapPoint {
            boundary: boundary.map(point::format_time),
            newest: newest.as_ref().map(|(t, _)| point::format_time(*t)),
            key: newest.map(|(_, k)| k).unwrap_or_default(),
        })
    }

    fn dn(&self, key: &str) -> String {
        format!(
            "{}={},{}",
            self.product.key,
            ldap3::dn_escape(key),
            self.product.base
        )
    }

    fn ldap(&self) -> Ldap {
        let mut l = self.ldap.clone();
        l.with_timeout(self.cfg.timeout);
        l
    }
}

#[async_trait]
impl Connector for MessagingConnector {
    /// The directory's `vendorName` and `vendorVersion` (RFC 3045) from its
    /// root DSE, or the LDAP version where it publishes none.
    async fn version(&self) -> Result<String> {
        let what = "reading the root DSE";
        let r = self
            .ldap()
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                vec!["vendorName", "vendorVersion", "supportedLDAPVersion"],
            )
            .await
            .map_err(|e| protocol(what, e))?;
        let (entries, _) = r.success().map_err(|e| protocol(what, e))?;
        let Some(root) = entries.into_iter().next().map(SearchEntry::construct) else {
            return Ok("LDAPv3".into());
        };
        let name = Self::value(&root, "vendorName");
        let version = Self::value(&root, "vendorVersion");
        Ok(match (name, version) {
            (_, Some(v)) => v.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => {
                let v = root
                    .attrs
                    .get("supportedLDAPVersion")
                    .and_then(|v| v.iter().filter_map(|s| s.parse::<u32>().ok()).max())
                    .unwrap_or(3);
                format!("LDAPv{v}")
            }
        })
    }

    async fn sync_point(&self) -> Result<String> {
        let rows = self.listing().await?;
        *self.listed.lock().expect("listed") = Some(rows.len() as u64);
        Ok(self.point(&rows, true).await?.to_text())
    }

    async fn read_all(&self, out: mpsc::Sender<ReadEvent>) -> Result<()> {
        self.read_type(SUBSCRIBER, out).await
    }

    async fn read_type(&self, object_type: &str, out: mpsc::Sender<ReadEvent>) -> Result<()> {
        if object_type != SUBSCRIBER {
            return Err(ConnectError::UnknownType(object_type.to_string()));
        }
        // Paged results give no reliable total; the key listing an init's
        // sync point just made does. Without one, progress shows what has
        // been read.
        let closed = || ConnectError::protocol("the reader stopped");
        let count = self.listed.lock().expect("listed").take().unwrap_or(0);
        out.send(ReadEvent::Expect {
            object_type: SUBSCRIBER.into(),
            count,
        })
        .await
        .map_err(|_| closed())?;
        let mut s = self
            .paged(&self.product.filter(), self.product.attrs())
            .await?;
        while let Some(e) = s.next().await? {
            if let Some(obj) = self.object(&e) {
                out.send(ReadEvent::Object(obj))
                    .await
                    .map_err(|_| closed())?;
            }
        }
        Ok(())
    }

    async fn changes_since(&self, point: &str, _own_logins: &[String]) -> Result<ChangeSet> {
        let prev = LdapPoint::parse(point).ok_or_else(|| {
            ConnectError::protocol("the stored sync point is not a messaging directory point")
        })?;
        // The keys and the new point first: everything changed after this is
        // at or after the new boundary, so nothing falls between two syncs.
        let keys = self.listing().await?;
        let new_point = self.point(&keys, false).await?;
        let filter = match &prev.boundary {
            Some(t) => format!("(&{}(modifyTimestamp>={t}))", self.product.filter()),
            None => self.product.filter(),
        };
        let mut attrs = self.product.attrs();
        attrs.push("modifiersName".to_string());
        let mut changed: Vec<String> = Vec::new();
        let mut by: HashMap<String, String> = HashMap::new();
        let mut read: HashMap<String, Object> = HashMap::new();
        let mut s = self.paged(&filter, attrs).await?;
        while let Some(e) = s.next().await? {
            if let Some(k) = self.key_of(&e) {
                if let Some(m) = Self::value(&e, "modifiersName") {
                    by.insert(k.clone(), m.to_string());
                }
                if let Some(obj) = self.object(&e) {
                    read.insert(k.clone(), obj);
                }
                changed.push(k);
            }
        }
        *self.prefetched.lock().expect("prefetched") = read;
        let mut set = ChangeSet {
            new_point: new_point.to_text(),
            ..ChangeSet::default()
        };
        // The subscriber that carried the newest timestamp is still there but
        // now older, or the server's clock is behind the last boundary: the
        // clock was set back, and changes may hide below the boundary.
        let was = |t: &Option<String>| t.as_deref().and_then(parse_time);
        let carrier = keys.iter().find(|(k, _)| *k == prev.key);
        if let (Some(t), Some((k, now))) = (was(&prev.newest), carrier)
            && parse_time(now).is_some_and(|n| n < t)
        {
            set.summary.unsure = Some(format!(
                "the directory's newest modifyTimestamp went backwards (subscriber {k} was at {}, now at {now}): its clock was set back, so changes may be missed",
                point::format_time(t)
            ));
        } else if let (Some(b), Some(n)) = (was(&prev.boundary), was(&new_point.boundary))
            && n < b
        {
            set.summary.unsure = Some(format!(
                "the directory's clock went backwards (now {}, the last sync point {}): changes may be missed",
                point::format_time(n),
                point::format_time(b)
            ));
        }
        set.summary.rows_to_apply = changed.len();
        for k in &changed {
            set.items.push(ChangeItem::Object {
                id: ObjectId::new(SUBSCRIBER, k.clone()),
                by_login: by.get(k).cloned(),
                at_element: None,
            });
        }
        set.listings.push(KeyListing {
            object_type: SUBSCRIBER.into(),
            keys: keys.into_iter().map(|(k, _)| k).collect(),
        });
        Ok(set)
    }

    async fn read_one(&self, id: &ObjectId) -> Result<Option<Object>> {
        if id.object_type != SUBSCRIBER {
            return Err(ConnectError::UnknownType(id.object_type.clone()));
        }
        let ready = self.prefetched.lock().expect("prefetched").remove(&id.key);
        if let Some(obj) = ready {
            return Ok(Some(obj));
        }
        let filter = format!(
            "(&{}({}={}))",
            self.product.filter(),
            self.product.key,
            ldap3::ldap_escape(&id.key)
        );
        let what = "reading a subscriber";
        let r = self
            .ldap()
            .search(
                &self.product.base,
                Scope::OneLevel,
                &filter,
                self.product.attrs(),
            )
            .await
            .map_err(|e| protocol(what, e))?;
        let (entries, _) = r.success().map_err(|e| protocol(what, e))?;
        Ok(entries
            .into_iter()
            .map(SearchEntry::construct)
            .find_map(|e| self.object(&e)))
    }

    /// Adds, changes or deletes a subscriber as a directory administrator
    /// would; fields are stored field names, mapped back to attributes.
    async fn write_one(&self, op: &WriteOp) -> Result<Option<Object>> {
        let attr = |f: &str| {
            self.product
                .attr_of(f)
                .map(str::to_string)
                .ok_or_else(|| ConnectError::refused(format!("'{f}' is not a subscriber field")))
        };
        let (WriteOp::Add { id, .. } | WriteOp::Change { id, .. } | WriteOp::Remove { id }) = op;
        if id.object_type != SUBSCRIBER {
            return Err(ConnectError::UnknownType(id.object_type.clone()));
        }
        self.product.key_grammar().check(SUBSCRIBER, &id.key)?;
        let what = "changing a subscriber";
        // What an incremental read before is not the object after this change.
        self.prefetched.lock().expect("prefetched").clear();
        let id = match op {
            WriteOp::Add { id, fields } => {
                let mut attrs: Vec<(String, HashSet<String>)> = vec![
                    (
                        "objectClass".into(),
                        HashSet::from(["top".to_string(), self.product.object_class.clone()]),
                    ),
                    (self.product.key.clone(), HashSet::from([id.key.clone()])),
                ];
                for (f, v) in fields.iter() {
                    let a = attr(f)?;
                    if !v.is_empty() && !a.eq_ignore_ascii_case(&self.product.key) {
                        attrs.push((a, HashSet::from([v.to_string()])));
                    }
                }
                let r = self.ldap().add(&self.dn(&id.key), attrs).await;
                r.and_then(|r| r.success()).map_err(|e| protocol(what, e))?;
                id
            }
            WriteOp::Change { id, fields } => {
                let mut mods = Vec::new();
                for (f, v) in fields.iter() {
                    let a = attr(f)?;
                    mods.push(if v.is_empty() {
                        Mod::Replace(a, HashSet::new())
                    } else {
                        Mod::Replace(a, HashSet::from([v.to_string()]))
                    });
                }
                let r = self.ldap().modify(&self.dn(&id.key), mods).await;
                r.and_then(|r| r.success()).map_err(|e| protocol(what, e))?;
                id
            }
            WriteOp::Remove { id } => {
                let r = self.ldap().delete(&self.dn(&id.key)).await;
                r.and_then(|r| r.success()).map_err(|e| protocol(what, e))?;
                return Ok(None);
            }
        };
        self.read_one(id).await
    }

    fn fingerprint(&self) -> Option<String> {
        // What LDAPS presented, for the runner to pin as for an IP Office
        // (with a CA file the CA decides; the pin is informational).
        self.cfg.tls.as_ref()?;
        self.seen.lock().expect("seen").clone()
    }

    fn secret_fields(&self, _object_type: &str) -> Vec<String> {
        // The only secret, the mailbox password, is never read.
        Vec::new()
    }

    fn display_name(&self, object: &Object) -> Option<String> {
        let field = self.product.field_of(&self.product.name)?;
        object
            .fields
            .get(field)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }

    async fn close(&self) {
        let _ = self.ldap.clone().unbind().await;
        self.driver.abort();
    }
}

impl Drop for MessagingConnector {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
