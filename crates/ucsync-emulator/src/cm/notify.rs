//! The emulated CM's notify sync: after each committed data command, one
//! change event (`ucsync-syslog`'s format, RFC 5424) to the configured
//! syslog target over UDP, TCP or TLS (octet-counted frames on a stream),
//! with the CM's name as the HOSTNAME. Events are sent in order by one
//! task; a stream that broke is opened again for the next event.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use chrono::NaiveDateTime;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use ucsync_syslog::{Action, Framing, NotifyEvent, encode_frame};

/// How events travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// Where events go: `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`
/// (with the CA that signed the listener's certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
    pub ca: Option<PathBuf>,
}

impl NotifyTarget {
    pub fn parse(url: &str, ca: Option<&Path>) -> Result<NotifyTarget> {
        let (scheme, rest) = url
            .split_once("://")
            .with_context(|| format!("'{url}': expected udp://, tcp:// or tls://HOST:PORT"))?;
        let transport = match scheme {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => bail!("'{url}': the scheme must be udp, tcp or tls"),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .with_context(|| format!("'{url}': no port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            bail!("'{url}': no host");
        }
        let port: u16 = port
            .parse()
            .with_context(|| format!("'{url}': '{port}' is not a port"))?;
        if transport == Transport::Tls && ca.is_none() {
            bail!("'{url}': tls:// needs --notify-ca FILE, the CA of the listener's certificate");
        }
        if transport != Transport::Tls && ca.is_some() {
            bail!("--notify-ca is only for tls://");
        }
        Ok(NotifyTarget {
            transport,
            host: host.to_string(),
            port,
            ca: ca.map(Path::to_path_buf),
        })
    }
}

/// Sends the events of one CM.
#[derive(Debug)]
pub struct NotifySender {
    name: String,
    tx: mpsc::UnboundedSender<String>,
    sent: Arc<AtomicU64>,
}

impl NotifySender {
    /// Starts the sending task (on the current runtime).
    pub fn start(name: &str, target: NotifyTarget) -> Result<NotifySender> {
        let tls = match target.transport {
            Transport::Tls => Some(tls_connector(
                target.ca.as_deref().context("tls:// needs a CA")?,
            )?),
            _ => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let sent = Arc::new(AtomicU64::new(0));
        tokio::spawn(send_all(target, tls, rx, sent.clone()));
        Ok(NotifySender {
            name: name.to_string(),
            tx,
            sent,
        })
    }

    /// Queues the event for a committed command.
    pub fn change(
        &self,
        login: &str,
        verb: &str,
        object: &str,
        qualifier: &str,
        at: NaiveDateTime,
    ) {
        let action = match Action::parse(verb) {
            Ok(a) => a,
            Err(e) => return tracing::warn!(error = %e, "no notify event for this verb"),
        };
        match NotifyEvent::new(&self.name, login, action, object, qualifier, at) {
            Ok(ev) => {
                let _ = self
                    .tx
                    .send(ev.to_rfc5424(chrono::Local::now().fixed_offset()));
            }
            Err(e) => tracing::warn!(error = %e, "cannot make a notify event"),
        }
    }

    /// Events sent so far (handed to the socket).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }
}

async fn send_all(
    target: NotifyTarget,
    tls: Option<tokio_rustls::TlsConnector>,
    mut rx: mpsc::UnboundedReceiver<String>,
    sent: Arc<AtomicU64>,
) {
    let addr = format!("{}:{}", target.host, target.port);
    let mut udp: Option<UdpSocket> = None;
    let mut stream: Option<Stream> = None;
    while let Some(msg) = rx.recv().await {
        let ok = match target.transport {
            Transport::Udp => {
                if udp.is_none() {
                    udp = udp_socket(&addr).await;
                }
                match &udp {
                    Some(s) => s.send(msg.as_bytes()).await.is_ok(),
                    None => false,
                }
            }
            Transport::Tcp | Transport::Tls => {
                let frame = encode_frame(Framing::OctetCounting, msg.as_bytes());
                let mut ok = false;
                // A broken stream is opened again once for this event.
                for _ in 0..2 {
                    if stream.is_none() {
                        stream = connect(&addr, &target.host, tls.as_ref()).await;
                    }
                    let Some(s) = stream.as_mut() else { break };
                    if s.send(&frame).await.is_ok() {
                        ok = true;
                        break;
                    }
                    stream = None;
                }
                ok
            }
        };
        if ok {
            sent.fetch_add(1, Ordering::SeqCst);
        } else {
            tracing::warn!(target = %addr, "a notify event could not be sent");
        }
    }
}

async fn udp_socket(addr: &str) -> Option<UdpSocket> {
    let to = tokio::net::lookup_host(addr).await.ok()?.next()?;
    let local = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let s = UdpSocket::bind(local).await.ok()?;
    s.connect(to).await.ok()?;
    Some(s)
}

async fn connect(
    addr: &str,
    host: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Option<Stream> {
    let tcp = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot connect to the notify syslog target");
            return None;
        }
    };
    let _ = tcp.set_nodelay(true);
    let Some(tls) = tls else {
        return Some(Stream::Tcp(tcp));
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).ok()?;
    match tls.connect(name, tcp).await {
        Ok(s) => Some(Stream::Tls(Box::new(s))),
        Err(e) => {
            tracing::warn!(%addr, error = %e, "TLS to the notify syslog target failed");
            None
        }
    }
}

fn tls_connector(ca: &Path) -> Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("cannot read {}", ca.display()))?
    {
        roots
            .add(c.with_context(|| format!("bad certificate in {}", ca.display()))?)
            .with_context(|| format!("bad CA certificate in {}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = NotifyTarget::parse("udp://127.0.0.1:5514", None).unwrap();
        assert_eq!(
            (t.transport, t.host.as_str(), t.port),
            (Transport::Udp, "127.0.0.1", 5514)
        );
        let t = NotifyTarget::parse("tcp://[::1]:514", None).unwrap();
        assert_eq!((t.transport, t.host.as_str()), (Transport::Tcp, "::1"));
        assert!(
            NotifyTarget::parse("tls://sm.example:6514", None).is_err(),
            "needs a CA"
        );
        assert!(NotifyTarget::parse("tls://sm.example:6514", Some(Path::new("ca.pem"))).is_ok());
        for bad in [
            "udp://host",
            "http://h:1",
            "udp://:1",
            "tcp://h:99999",
            "h:1",
        ] {
            assert!(NotifyTarget::parse(bad, None).is_err(), "{bad}");
        }
    }
}
