//! HTTPS for the REST API, the console, `/metrics` and `/healthz`: whether
//! the service speaks TLS (the decision), its certificate (given, or
//! self-signed in the data directory), a renewed certificate taken without
//! a restart, and the listener that does the handshakes.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, ensure};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// The self-signed certificate's files in the data directory; the CLI on
/// the same machine trusts the first.
pub const SELF_SIGNED_CERT: &str = "http-tls.crt";
pub const SELF_SIGNED_KEY: &str = "http-tls.key";

/// How often the certificate files are looked at for a renewal (SIGHUP
/// takes one at once).
const WATCH_EVERY: Duration = Duration::from_secs(10);

/// How the API is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMode {
    /// Plain HTTP on loopback: nothing crosses a network.
    Plain,
    /// Plain HTTP off loopback, because `insecure_http` says so.
    Insecure,
    /// HTTPS with the certificate of `http_tls_cert` and `http_tls_key`.
    Given,
    /// HTTPS with the data directory's self-signed certificate (made at
    /// the first start): off loopback with no certificate given.
    SelfSigned,
}

/// The rule: a certificate given means HTTPS; else loopback (127.0.0.0/8,
/// ::1) is plain HTTP, and any other address HTTPS with a self-signed
/// certificate unless `insecure_http` asks for plain HTTP.
pub fn decide(listen: SocketAddr, cert_given: bool, insecure: bool) -> Result<HttpMode, String> {
    let loopback = listen.ip().to_canonical().is_loopback();
    Ok(match (cert_given, insecure, loopback) {
        (true, true, _) => {
            return Err(
                "insecure_http and http_tls_cert contradict each other: drop one of them".into(),
            );
        }
        (true, false, _) => HttpMode::Given,
        (false, _, true) => HttpMode::Plain,
        (false, true, false) => HttpMode::Insecure,
        (false, false, false) => HttpMode::SelfSigned,
    })
}

/// The names and addresses a self-signed certificate is made for: the
/// loopback names, the host's name and what it resolves to, and the
/// address listened on when it is not the wildcard.
pub fn host_names(listen: SocketAddr) -> Vec<String> {
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    let resolved: Vec<IpAddr> = host
        .as_deref()
        .and_then(|h| (h, 0).to_socket_addrs().ok())
        .map(|a| a.map(|a| a.ip()).collect())
        .unwrap_or_default();
    names_for(listen, host.as_deref(), &resolved)
}

fn names_for(listen: SocketAddr, host: Option<&str>, resolved: &[IpAddr]) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    names.extend(host.map(str::to_string));
    names.extend(resolved.iter().map(|ip| ip.to_canonical().to_string()));
    if !listen.ip().is_unspecified() {
        names.push(listen.ip().to_canonical().to_string());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The data directory's self-signed certificate and key (mode 0600): made
/// for `names` when there is none, else kept. Returns the two files and
/// whether this call made them.
pub fn self_signed(data_dir: &Path, names: &[String]) -> anyhow::Result<(PathBuf, PathBuf, bool)> {
    let (cert, key) = (
        data_dir.join(SELF_SIGNED_CERT),
        data_dir.join(SELF_SIGNED_KEY),
    );
    if cert.exists() && key.exists() {
        return Ok((cert, key, false));
    }
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .context("cannot make a self-signed certificate for the host's names")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ucsync serve (self-signed)");
    let now = chrono::Utc::now();
    let day = |t: chrono::DateTime<chrono::Utc>| {
        use chrono::Datelike;
        rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8)
    };
    params.not_before = day(now - chrono::Days::new(1));
    params.not_after = day(now + chrono::Days::new(3650));
    let pair = rcgen::KeyPair::generate().context("cannot make a key")?;
    let made = params
        .self_signed(&pair)
        .context("cannot sign the self-signed certificate")?;
    super::write_private(&key, pair.serialize_pem().trim_end())?;
    std::fs::write(&cert, made.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    Ok((cert, key, true))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A certificate chain and its key from PEM files, and the SHA-256
/// fingerprint of the certificate.
fn read_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> anyhow::Result<(CertifiedKey, String)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
    ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the private key {}", key.display()))?;
    let fingerprint = ucsync_connect::tls::fingerprint_of(chain[0].as_ref());
    let certified = CertifiedKey::from_der(chain, der, provider).with_context(|| {
        format!(
            "the certificate {} and the key {} do not fit together",
            cert.display(),
            key.display()
        )
    })?;
    Ok((certified, fingerprint))
}

/// When the files were last written, to notice a renewal.
type Stamp = Option<(SystemTime, SystemTime)>;

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(cert)?, m(key)?))
}

/// The certificate the service presents; [`CertStore::reload`] swaps it
/// for new handshakes, and connections already open keep theirs.
#[derive(Debug)]
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<(Arc<CertifiedKey>, String)>,
    stamp: Mutex<Stamp>,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("certificate").0.clone())
    }
}

impl CertStore {
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertStore>> {
        let provider = provider();
        let stamp = stamp(cert, key);
        let (certified, fingerprint) = read_pair(cert, key, &provider)?;
        Ok(Arc::new(CertStore {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: RwLock::new((Arc::new(certified), fingerprint)),
            stamp: Mutex::new(stamp),
        }))
    }

    /// The SHA-256 fingerprint of the certificate presented now.
    pub fn fingerprint(&self) -> String {
        self.current.read().expect("certificate").1.clone()
    }

    /// Reads the files again and presents what they hold from the next
    /// handshake on; returns the new fingerprint when it changed. Files
    /// that cannot be read or do not fit together leave the certificate
    /// in use as it is.
    pub fn reload(&self) -> anyhow::Result<Option<String>> {
        *self.stamp.lock().expect("stamp") = stamp(&self.cert, &self.key);
        let (certified, fingerprint) = read_pair(&self.cert, &self.key, &self.provider)?;
        let mut current = self.current.write().expect("certificate");
        if current.1 == fingerprint {
            return Ok(None);
        }
        *current = (Arc::new(certified), fingerprint.clone());
        Ok(Some(fingerprint))
    }

    fn changed_on_disk(&self) -> bool {
        *self.stamp.lock().expect("stamp") != stamp(&self.cert, &self.key)
    }

    /// Reloads on SIGHUP, and when the files change, until `cancel`. SIGHUP
    /// is taken at once, before the returned task first runs, so a signal
    /// sent as soon as the service says it is serving never ends it.
    pub fn watch(
        self: Arc<Self>,
        cancel: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        #[cfg(unix)]
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot take SIGHUP: the certificate is re-read when its files change");
                None
            }
        };
        async move {
            let mut tick = tokio::time::interval(WATCH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                #[cfg(unix)]
                let hup = async {
                    match hangup.as_mut() {
                        Some(s) => s.recv().await,
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let hup = std::future::pending::<Option<()>>();
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = hup => {}
                    _ = tick.tick() => if !self.changed_on_disk() { continue },
                }
                match self.reload() {
                    Ok(Some(fingerprint)) => {
                        tracing::info!(cert = %self.cert.display(), %fingerprint, "presenting the renewed HTTPS certificate");
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(
                        error = format!("{e:#}"),
                        "the HTTPS certificate was not renewed, the one in use stays: fix the files and send SIGHUP"
                    ),
                }
            }
        }
    }

    /// TLS 1.2 and 1.3, HTTP/2 or HTTP/1.1 by ALPN, this store's certificate.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_by_address_certificate_and_insecure_http() {
        use HttpMode::*;
        for (listen, cert, insecure, expect) in [
            ("127.0.0.1:8080", false, false, Ok(Plain)),
            ("127.0.0.2:8080", false, false, Ok(Plain)),
            ("[::1]:8080", false, false, Ok(Plain)),
            ("[::ffff:127.0.0.1]:8080", false, false, Ok(Plain)),
            ("127.0.0.1:8080", false, true, Ok(Plain)),
            ("127.0.0.1:8080", true, false, Ok(Given)),
            ("0.0.0.0:8080", false, false, Ok(SelfSigned)),
            ("[::]:8080", false, false, Ok(SelfSigned)),
            ("0.0.0.0:8080", true, false, Ok(Given)),
            ("0.0.0.0:8080", false, true, Ok(Insecure)),
            ("[::]:8080", false, true, Ok(Insecure)),
            ("0.0.0.0:8080", true, true, Err("contradict")),
            ("127.0.0.1:8080", true, true, Err("contradict")),
        ] {
            let got = decide(listen.parse().unwrap(), cert, insecure);
            match (&got, expect) {
                (Ok(m), Ok(e)) => assert_eq!(*m, e, "{listen} {cert} {insecure}"),
                (Err(m), Err(e)) => assert!(m.contains(e), "{m}"),
                _ => panic!("{listen} cert {cert} insecure {insecure}: {got:?}"),
            }
        }
    }

    #[test]
    fn names_hold_loopback_the_host_and_the_listen_address() {
        let resolved: Vec<IpAddr> = vec!["::ffff:127.0.1.1".parse().unwrap()];
        let names = names_for("127.0.0.2:443".parse().unwrap(), Some("sm1"), &resolved);
        assert_eq!(
            names,
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "sm1",
                "127.0.1.1",
                "127.0.0.2"
            ]
        );
        let wildcard = names_for("0.0.0.0:443".parse().unwrap(), None, &[]);
        assert_eq!(wildcard, ["localhost", "127.0.0.1", "::1"]);
    }

    /// The certificate `serve` makes is kept (key 0600), presented, and
    /// trusted by the data directory's copy as the CLI uses it.
    #[tokio::test]
    async fn a_self_signed_certificate_is_made_once_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let names = names_for("0.0.0.0:443".parse().unwrap(), None, &[]);
        let (cert, key, made) = self_signed(dir.path(), &names).unwrap();
        assert!(made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let store = CertStore::load(&cert, &key).unwrap();
        let first = store.fingerprint();
        let (_, _, again) = self_signed(dir.path(), &names).unwrap();
        assert!(!again, "kept across starts");
        assert_eq!(CertStore::load(&cert, &key).unwrap().fingerprint(), first);

        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let acceptor = store.acceptor().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (plain, _) = tcp.accept().await.unwrap();
            let mut s = acceptor.accept(plain).await.unwrap();
            s.write_all(b"ok").await.unwrap();
            s.shutdown().await.unwrap();
        });
        let seen = Arc::new(Mutex::new(None));
        let trust = ucsync_connect::tls::Trust::CaFile(cert.clone());
        let config = ucsync_connect::tls::client_config(&trust, seen.clone()).unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"ok");
        assert_eq!(seen.lock().unwrap().as_deref(), Some(first.as_str()));
        server.await.unwrap();
    }
}
