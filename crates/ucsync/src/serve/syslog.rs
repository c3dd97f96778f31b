//! The notify-sync syslog listener of `ucsync serve`: UDP (one message per
//! datagram), and TCP with RFC 6587 framing (octet counting and
//! newline/NUL-terminated, per message) — TLS on the same port when a
//! certificate is configured, with client certificates when a CA is given.
//!
//! Bytes become events through `ucsync-syslog` (framing, RFC 5424/3164
//! decoding, the notify event format); every message dropped on the way is
//! counted by its error kind. Each sender (source address) has a token
//! bucket: a flood from one is dropped and counted as `rate-limited` while
//! the others go on. The events go to the engine's [`Notifier`], which never
//! makes the listener wait.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use ucsync_connect::ElementEvent;
use ucsync_core::ElementNetworks;
use ucsync_engine::notify::{Incoming, Notifier, NotifyStats};
use ucsync_syslog::{Framer, NotifyEvent, SyslogMessage};

/// TLS files of the listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When given, senders must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ListenerSettings {
    pub tls: Option<TlsFiles>,
    /// Messages per second each sender may send, on average.
    pub rate: f64,
    /// How many it may send at once.
    pub burst: f64,
    /// The longest message taken.
    pub max_len: usize,
    /// TCP/TLS connections at once, in total and from one sender address;
    /// past them a new connection is closed at once.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// A TCP/TLS connection that has sent nothing (its TLS handshake
    /// included) this long after opening is closed; 2 s at most once three
    /// quarters of `max_connections` are in use.
    pub first_message: Duration,
    /// A TCP/TLS connection that sends nothing more this long is closed.
    pub idle: Duration,
    /// Messages are taken only from senders in these networks.
    pub networks: ElementNetworks,
}

impl Default for ListenerSettings {
    fn default() -> Self {
        ListenerSettings {
            tls: None,
            rate: 1000.0,
            burst: 2000.0,
            max_len: ucsync_syslog::DEFAULT_MAX_LEN,
            max_connections: 256,
            max_connections_per_address: 16,
            first_message: Duration::from_secs(10),
            idle: Duration::from_secs(600),
            networks: ElementNetworks::default(),
        }
    }
}

/// A running listener.
#[derive(Debug)]
pub struct Listener {
    /// UDP and TCP (or TLS) listen on this address.
    pub addr: SocketAddr,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A token bucket per sender address.
#[derive(Debug)]
struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Limiter {
    fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    /// Whether `ip` may send one more message at `now`.
    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 100_000 {
            // Forget the senders whose buckets are full again.
            let (rate, burst) = (self.rate, self.burst);
            b.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = b.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Shared {
    notifier: Notifier,
    stats: Arc<NotifyStats>,
    limiter: Limiter,
    networks: ElementNetworks,
    max_len: usize,
}

impl Shared {
    /// One message from `source`: an event for the notifier, or counted.
    fn message(&self, bytes: &[u8], source: IpAddr) {
        let msg = match SyslogMessage::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.stats.count_malformed(e.kind().as_str()),
        };
        let ev = match NotifyEvent::parse(&msg) {
            Ok(ev) => ev,
            Err(e) => return self.stats.count_malformed(e.kind().as_str()),
        };
        self.notifier.submit(Incoming {
            element: ev.cm().to_string(),
            source,
            event: ElementEvent {
                login: ev.login().to_string(),
                action: ev.action().as_str().to_string(),
                object: ev.object().to_string(),
                qualifier: ev.qualifier().unwrap_or_default().to_string(),
                at: ev.time(),
            },
            received: Instant::now(),
        });
    }

    /// Whether a sender may send at all: inside the element networks.
    fn admit(&self, source: IpAddr) -> bool {
        if self.networks.allows(source) {
            return true;
        }
        self.stats.count_ignored("outside-element-networks");
        false
    }

    fn allow(&self, source: IpAddr) -> bool {
        if !self.admit(source) {
            return false;
        }
        if self.limiter.allow(source) {
            return true;
        }
        self.stats.count_ignored("rate-limited");
        false
    }
}

/// The notify-sync listener's sockets: UDP and TCP on one port.
#[derive(Debug)]
pub struct Sockets {
    tcp: TcpListener,
    udp: UdpSocket,
}

impl Sockets {
    /// Binds UDP and TCP on one port (with port 0, one both can have).
    pub async fn bind(addr: SocketAddr) -> anyhow::Result<Sockets> {
        let (tcp, udp) = bind(addr).await?;
        Ok(Sockets { tcp, udp })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Serves notify sync on the bound `sockets` until `stop`.
pub fn start(
    sockets: Sockets,
    settings: ListenerSettings,
    notifier: Notifier,
    stop: CancellationToken,
) -> anyhow::Result<Listener> {
    let settings_tls = settings.tls.is_some();
    let tls = match &settings.tls {
        Some(files) => Some(tls_acceptor(files)?),
        None => None,
    };
    let Sockets { tcp, udp } = sockets;
    let addr = tcp.local_addr()?;
    let shared = Arc::new(Shared {
        stats: notifier.stats().clone(),
        notifier,
        limiter: Limiter {
            rate: settings.rate,
            burst: settings.burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        },
        networks: settings.networks.clone(),
        max_len: settings.max_len,
    });
    let tasks = vec![
        tokio::spawn(serve_udp(udp, shared.clone(), stop.clone())),
        tokio::spawn(serve_tcp(tcp, tls, shared, settings, stop)),
    ];
    tracing::info!(%addr, tls = settings_tls, "notify-sync syslog listening on UDP and TCP");
    Ok(Listener { addr, tasks })
}

async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, UdpSocket)> {
    let mut last = None;
    for _ in 0..if addr.port() == 0 { 20 } else { 1 } {
        let tcp = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on TCP {addr} for syslog"))?;
        let port = tcp.local_addr()?.port();
        match udp_socket(SocketAddr::new(addr.ip(), port)) {
            Ok(udp) => return Ok((tcp, udp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || anyhow::anyhow!("cannot listen on UDP {addr} for syslog"),
        |e| anyhow::Error::new(e).context(format!("cannot listen on UDP {addr} for syslog")),
    ))
}

/// A UDP socket with a receive buffer for bursts (several thousand
/// events), so that a burst is not lost in the kernel while the listener
/// catches up.
fn udp_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // As large as the system allows (net.core.rmem_max caps it).
    let _ = s.set_recv_buffer_size(8 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

async fn serve_udp(socket: UdpSocket, shared: Arc<Shared>, stop: CancellationToken) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "syslog UDP receive failed");
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        if !shared.allow(from.ip()) {
            continue;
        }
        match ucsync_syslog::datagram(&buf[..n], shared.max_len) {
            Ok(msg) => shared.message(msg, from.ip()),
            Err(e) => shared.stats.count_malformed(e.kind().as_str()),
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    settings: ListenerSettings,
    stop: CancellationToken,
) {
    let gate = super::limits::Gate::new(super::limits::ConnLimits {
        total: settings.max_connections.max(1),
        per_address: settings.max_connections_per_address.max(1),
        header_timeout: settings.first_message,
    });
    loop {
        let (stream, from) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "syslog TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        if !shared.admit(from.ip()) {
            tracing::debug!(%from, "syslog connection from outside the element networks: closed");
            continue;
        }
        let Some(permit) = gate.admit(from.ip()) else {
            shared.stats.count_ignored("too-many-connections");
            tracing::debug!(%from, "too many syslog connections: closed");
            continue;
        };
        let (shared, tls, stop) = (shared.clone(), tls.clone(), stop.clone());
        let times = Times {
            first: permit.header_timeout(),
            idle: settings.idle,
        };
        tokio::spawn(async move {
            connection(stream, from, tls, shared, stop, times).await;
            drop(permit);
        });
    }
}

/// How long a connection may stay silent: before its first bytes (the TLS
/// handshake's, for TLS), and after.
#[derive(Debug, Clone, Copy)]
struct Times {
    first: Duration,
    idle: Duration,
}

async fn connection(
    stream: TcpStream,
    from: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    times: Times,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => read_frames(stream, from.ip(), &shared, &stop, times).await,
        Some(acceptor) => match tokio::time::timeout(times.first, acceptor.accept(stream)).await {
            Ok(Ok(s)) => read_frames(s, from.ip(), &shared, &stop, times).await,
            Ok(Err(e)) => tracing::info!(%from, error = %e, "syslog TLS handshake failed"),
            Err(_) => tracing::info!(%from, "syslog TLS handshake timed out"),
        },
    }
}

async fn read_frames(
    mut stream: impl AsyncRead + Unpin,
    source: IpAddr,
    shared: &Shared,
    stop: &CancellationToken,
    times: Times,
) {
    let mut framer = Framer::new(shared.max_len);
    let mut buf = vec![0u8; 16 * 1024];
    let mut wait = times.first;
    loop {
        let n = tokio::select! {
            r = tokio::time::timeout(wait, stream.read(&mut buf)) => match r {
                Ok(Ok(n)) => n,
                Ok(Err(_)) | Err(_) => 0,
            },
            _ = stop.cancelled() => return,
        };
        if n == 0 {
            if let Some(last) = framer.finish() {
                frame(last, source, shared);
            }
            return;
        }
        wait = times.idle;
        framer.push(&buf[..n]);
        while let Some(f) = framer.next_frame() {
            frame(f, source, shared);
        }
    }
}

fn frame(f: Result<&[u8], ucsync_syslog::FrameError>, source: IpAddr, shared: &Shared) {
    if !shared.allow(source) {
        return;
    }
    match f {
        Ok(msg) => shared.message(msg, source),
        Err(e) => shared.stats.count_malformed(e.kind().as_str()),
    }
}

fn tls_acceptor(files: &TlsFiles) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("cannot read {}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad certificate in {}", files.cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "no certificate in {}",
        files.cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("cannot read the private key {}", files.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca)
                .with_context(|| format!("cannot read {}", ca.display()))?
            {
                roots
                    .add(c.with_context(|| format!("bad certificate in {}", ca.display()))?)
                    .with_context(|| format!("bad CA certificate in {}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .context("client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .context("the syslog TLS certificate and key do not go together")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_list_every_kind_the_parser_reports() {
        let kinds: Vec<&str> = ucsync_syslog::ErrorKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(kinds, ucsync_engine::notify::MALFORMED_KINDS);
    }

    #[test]
    fn a_bucket_refills_at_its_rate() {
        let l = Limiter {
            rate: 1000.0,
            burst: 3.0,
            buckets: Mutex::new(HashMap::new()),
        };
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let t = Instant::now();
        assert!((0..3).all(|_| l.allow_at(a, t)));
        assert!(!l.allow_at(a, t), "the burst is spent");
        assert!(l.allow_at(b, t), "another sender has its own bucket");
        let later = t + Duration::from_micros(500);
        assert!(!l.allow_at(a, later), "half a message refilled");
        let later = t + Duration::from_millis(5);
        assert!(l.allow_at(a, later), "refilled");
        assert!((0..2).all(|_| l.allow_at(a, later)), "up to the burst");
        assert!(!l.allow_at(a, later), "and no more");
    }
}
