//! One SAT session in OSSI mode over one SSH connection, with many commands
//! in flight: requests are written as they come (up to the window) and the
//! answers, which a CM gives in order, are matched to them first in, first out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Msg};
use russh::keys::{HashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};
use ucsync_ossi::{Request, Response, ResponseDecoder, ServerEvent};

use crate::{SatConfig, SatError};

struct KeyCheck {
    pinned: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
}

/// The host-key error, if the server presented a key other than the pinned one.
fn key_mismatch(seen: &Mutex<Option<String>>, cfg: &SatConfig) -> Option<SatError> {
    let actual = seen.lock().expect("fingerprint").clone()?;
    let expected = cfg.host_key.as_ref()?;
    (!same_fingerprint(&actual, expected)).then(|| SatError::HostKeyMismatch {
        target: cfg.target(),
        expected: expected.clone(),
        actual,
    })
}

fn same_fingerprint(a: &str, b: &str) -> bool {
    a.trim_start_matches("SHA256:") == b.trim_start_matches("SHA256:")
}

/// The SHA-256 fingerprint a host is pinned by: its key's, and for a host
/// certificate the key it certifies (the certificate's CA is not trusted
/// for anything: another certificate of the same CA is another key).
fn host_fingerprint(key: &PublicKeyOrCertificate) -> String {
    match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => {
            key.fingerprint(HashAlg::Sha256).to_string()
        }
        PublicKeyOrCertificate::Certificate(cert) => {
            cert.public_key().fingerprint(HashAlg::Sha256).to_string()
        }
    }
}

impl client::Handler for KeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let fp = host_fingerprint(key);
        let ok = self
            .pinned
            .as_deref()
            .is_none_or(|p| same_fingerprint(p, &fp));
        *self.seen.lock().expect("fingerprint") = Some(fp);
        Ok(ok)
    }
}

enum Kind {
    Command(String),
    Logoff,
}

struct Job {
    kind: Kind,
    reply: oneshot::Sender<Result<Response, SatError>>,
}

enum Waiting {
    Command(oneshot::Sender<Result<Response, SatError>>),
    KeepAlive,
    Logoff(oneshot::Sender<Result<Response, SatError>>),
}

/// A SAT session to one CM.
pub struct SatSession {
    jobs: mpsc::Sender<Job>,
    fingerprint: String,
    target: String,
    in_flight: AtomicUsize,
    closed: Arc<AtomicBool>,
    abort: Arc<Notify>,
}

impl std::fmt::Debug for SatSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SatSession")
            .field("target", &self.target)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl SatSession {
    /// Connects, logs in, selects OSSI and waits for the ready `t`.
    pub async fn connect(cfg: &SatConfig) -> Result<SatSession, SatError> {
        let target = cfg.target();
        let seen = Arc::new(Mutex::new(None));
        let handler = KeyCheck {
            pinned: cfg.host_key.clone(),
            seen: seen.clone(),
        };
        let config = Arc::new(client::Config {
            nodelay: true,
            ..Default::default()
        });
        let reaching = async {
            if cfg.addrs.is_empty() {
                tokio::net::TcpStream::connect((cfg.host.as_str(), cfg.port)).await
            } else {
                tokio::net::TcpStream::connect(&cfg.addrs[..]).await
            }
        };
        let tcp = match timeout(cfg.connect_timeout, reaching).await {
            Err(_) => {
                return Err(SatError::Timeout {
                    target,
                    what: "connect".into(),
                    after: cfg.connect_timeout,
                });
            }
            Ok(Err(io)) => {
                return Err(SatError::Connect {
                    target,
                    detail: io.to_string(),
                });
            }
            Ok(Ok(tcp)) => tcp,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%target, error = %e, "cannot set TCP_NODELAY");
        }
        // What the server sends first tells an SSH server that refused us
        // from a port where no SSH server listens.
        let (stream, heard) = crate::banner::Recording::new(tcp);
        let handshake = client::connect_stream(config, stream, handler);
        let not_ssh = || {
            crate::banner::not_ssh(&heard.lock().expect("heard")).map(|heard| SatError::NotSsh {
                target: target.clone(),
                heard,
            })
        };
        let mut handle = match timeout(cfg.connect_timeout, handshake).await {
            Err(_) => {
                return Err(not_ssh().unwrap_or(SatError::Timeout {
                    target,
                    what: "SSH handshake".into(),
                    after: cfg.connect_timeout,
                }));
            }
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                if let Some(mismatch) = key_mismatch(&seen, cfg) {
                    return Err(mismatch);
                }
                if let Some(e) = not_ssh() {
                    return Err(e);
                }
                return Err(match e {
                    russh::Error::IO(io) => SatError::Connect {
                        target,
                        detail: io.to_string(),
                    },
                    e => SatError::Ssh {
                        target,
                        detail: e.to_string(),
                    },
                });
            }
        };
        let fingerprint = seen
            .lock()
            .expect("fingerprint")
            .clone()
            .unwrap_or_default();
        let login = async {
            authenticate(&mut handle, cfg).await?;
            let ssh = |e: russh::Error| SatError::Ssh {
                target: target.clone(),
                detail: e.to_string(),
            };
            let channel = handle.channel_open_session().await.map_err(ssh)?;
            channel
                .request_pty(false, "vt100", 80, 24, 0, 0, &[])
                .await
                .map_err(ssh)?;
            channel.request_shell(false).await.map_err(ssh)?;
            let (mut rd, wr) = channel.split();
            let mut decoder = ResponseDecoder::new();
            let mut sent_type = false;
            loop {
                while let Some(ev) = decoder.next_event() {
                    match ev.map_err(|source| SatError::Protocol {
                        target: target.clone(),
                        source,
                    })? {
                        ServerEvent::TerminalPrompt if !sent_type => {
                            sent_type = true;
                            let t = format!("{}\n", cfg.terminal_type);
                            wr.data(t.as_bytes()).await.map_err(ssh)?;
                        }
                        ServerEvent::Ready => return Ok((rd, wr, decoder)),
                        ServerEvent::ResourcesUnavailable => {
                            return Err(SatError::ResourcesUnavailable {
                                target: target.clone(),
                            });
                        }
                        _ => {}
                    }
                }
                match rd.wait().await {
                    Some(ChannelMsg::Data { data }) => decoder.feed(&data),
                    Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                        return Err(SatError::ConnectionLost {
                            target: target.clone(),
                            detail: "closed during login".into(),
                        });
                    }
                    Some(_) => {}
                }
            }
        };
        let (rd, wr, decoder) = match timeout(cfg.login_timeout, login).await {
            Err(_) => {
                return Err(SatError::Timeout {
                    target,
                    what: "login".into(),
                    after: cfg.login_timeout,
                });
            }
            // A refused host key may surface only here, as the session dies
            // under the first request after the key exchange.
            Ok(r) => r.map_err(|e| key_mismatch(&seen, cfg).unwrap_or(e))?,
        };
        let (jobs, rx) = mpsc::channel(cfg.window.max(1) * 2);
        let closed = Arc::new(AtomicBool::new(false));
        let abort = Arc::new(Notify::new());
        let driver = Driver {
            abort: abort.clone(),
            target: target.clone(),
            rd,
            wr,
            decoder,
            jobs: rx,
            waiting: VecDeque::new(),
            window: cfg.window.max(1),
            command_timeout: cfg.command_timeout,
            keepalive: cfg.keepalive,
            closed: closed.clone(),
            handle,
        };
        tokio::spawn(driver.run());
        tracing::debug!(%target, login = %cfg.login, "SAT session ready");
        Ok(SatSession {
            jobs,
            fingerprint,
            target,
            in_flight: AtomicUsize::new(0),
            closed,
            abort,
        })
    }

    /// The SHA-256 fingerprint of the CM's host key (`SHA256:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed) || self.jobs.is_closed()
    }

    /// Commands handed to this session and not yet answered, whether sent
    /// or still waiting for room in the window. Counted as they are handed
    /// over, not when the session's task gets to them, so that a burst of
    /// commands is spread over a client's sessions as it is submitted.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Sends one command and waits for its whole answer (errors from the CM
    /// are in the response; see [`Response::failure`]).
    pub async fn run(&self, req: &Request) -> Result<Response, SatError> {
        self.submit(Kind::Command(req.encode())).await
    }

    /// Logs off cleanly: `clogoff`, then `y` to the prompt.
    pub async fn logoff(&self) -> Result<(), SatError> {
        self.submit(Kind::Logoff).await.map(|_| ())
    }

    /// Drops the connection without logging off (a CM that stopped
    /// answering cannot be logged off); whoever waits gets an error.
    pub fn abort(&self) {
        self.abort.notify_one();
    }

    async fn submit(&self, kind: Kind) -> Result<Response, SatError> {
        let _counted = InFlight::count(&self.in_flight);
        let (tx, rx) = oneshot::channel();
        let closed = || SatError::Closed {
            target: self.target.clone(),
        };
        self.jobs
            .send(Job { kind, reply: tx })
            .await
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

/// One command counted in a session's `in_flight` until answered, failed or
/// given up by its caller.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn count(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        InFlight(n)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn authenticate<H: client::Handler>(
    handle: &mut client::Handle<H>,
    cfg: &SatConfig,
) -> Result<(), SatError> {
    use russh::client::KeyboardInteractiveAuthResponse as Ki;
    let target = cfg.target();
    let ssh = |e: russh::Error| SatError::Ssh {
        target: target.clone(),
        detail: e.to_string(),
    };
    // A CM asks for the password with keyboard-interactive; some offer only `password`.
    let mut reply = handle
        .authenticate_keyboard_interactive_start(cfg.login.clone(), None)
        .await
        .map_err(ssh)?;
    let mut rounds = 0;
    loop {
        match reply {
            Ki::Success => return Ok(()),
            Ki::InfoRequest { prompts, .. } if rounds < 4 => {
                rounds += 1;
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            cfg.password.expose().to_string()
                        }
                    })
                    .collect();
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await
                    .map_err(ssh)?;
            }
            Ki::InfoRequest { .. } => break,
            Ki::Failure {
                remaining_methods, ..
            } => {
                if rounds == 0 && remaining_methods.contains(&russh::MethodKind::Password) {
                    let r = handle
                        .authenticate_password(cfg.login.clone(), cfg.password.expose())
                        .await
                        .map_err(ssh)?;
                    if r.success() {
                        return Ok(());
                    }
                }
                break;
            }
        }
    }
    Err(SatError::AuthFailed {
        target,
        login: cfg.login.clone(),
    })
}

struct Driver {
    target: String,
    rd: ChannelReadHalf,
    wr: ChannelWriteHalf<Msg>,
    decoder: ResponseDecoder,
    jobs: mpsc::Receiver<Job>,
    waiting: VecDeque<(Waiting, Instant)>,
    window: usize,
    command_timeout: Duration,
    keepalive: Option<Duration>,
    closed: Arc<AtomicBool>,
    abort: Arc<Notify>,
    handle: client::Handle<KeyCheck>,
}

impl Driver {
    async fn run(mut self) {
        let reason = self.serve().await;
        self.closed.store(true, Ordering::Relaxed);
        self.jobs.close();
        let fail = |w: Waiting| match w {
            Waiting::Command(tx) | Waiting::Logoff(tx) => {
                let _ = tx.send(Err(reason.clone()));
            }
            Waiting::KeepAlive => {}
        };
        for (w, _) in self.waiting.drain(..) {
            fail(w);
        }
        while let Ok(job) = self.jobs.try_recv() {
            let _ = job.reply.send(Err(reason.clone()));
        }
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    fn lost(&self, detail: &str) -> SatError {
        SatError::ConnectionLost {
            target: self.target.clone(),
            detail: detail.to_string(),
        }
    }

    async fn write(&mut self, text: &str) -> Result<(), SatError> {
        self.wr
            .data(text.as_bytes())
            .await
            .map_err(|e| self.lost(&e.to_string()))
    }

    fn push(&mut self, w: Waiting) {
        // The deadline of an answer runs from when it is next in line.
        let deadline = Instant::now() + self.command_timeout;
        self.waiting.push_back((w, deadline));
    }

    /// Serves until the session ends; returns why, for whoever still waits.
    async fn serve(&mut self) -> SatError {
        let mut idle_since = Instant::now();
        let mut logging_off = false;
        loop {
            let front_deadline = self.waiting.front().map(|(_, d)| *d);
            let keepalive_at = match (self.waiting.is_empty(), self.keepalive) {
                (true, Some(k)) if !logging_off => Some(idle_since + k),
                _ => None,
            };
            let can_take = self.waiting.len() < self.window && !logging_off;
            tokio::select! {
                job = self.jobs.recv(), if can_take => {
                    let Some(job) = job else {
                        // Every handle is gone: log off politely.
                        logging_off = true;
                        if let Err(e) = self.write("clogoff\nt\n").await { return e; }
                        let (tx, _rx) = oneshot::channel();
                        self.push(Waiting::Logoff(tx));
                        continue;
                    };
                    match job.kind {
                        Kind::Command(text) => {
                            if let Err(e) = self.write(&text).await { let _ = job.reply.send(Err(e.clone())); return e; }
                            self.push(Waiting::Command(job.reply));
                        }
                        Kind::Logoff => {
                            logging_off = true;
                            if let Err(e) = self.write("clogoff\nt\n").await { let _ = job.reply.send(Err(e.clone())); return e; }
                            self.push(Waiting::Logoff(job.reply));
                        }
                    }
                }
                msg = self.rd.wait() => match msg {
                    Some(ChannelMsg::Data { data }) => {
                        self.decoder.feed(&data);
                        if let Err(e) = self.drain(&mut idle_since).await { return e; }
                    }
                    Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                        if let Some((Waiting::Logoff(_), _)) = self.waiting.front() {
                            if let Some((Waiting::Logoff(tx), _)) = self.waiting.pop_front() {
                                let _ = tx.send(Ok(Response::default()));
                            }
                            return SatError::Closed { target: self.target.clone() };
                        }
                        return self.lost(if self.decoder.mid_response() { "closed in the middle of a response" } else { "closed by the CM" });
                    }
                    Some(_) => {}
                },
                _ = self.abort.notified() => {
                    return SatError::Closed { target: self.target.clone() };
                }
                _ = sleep_until(front_deadline.unwrap_or_else(Instant::now)), if front_deadline.is_some() => {
                    return SatError::Timeout { target: self.target.clone(), what: "command".into(), after: self.command_timeout };
                }
                _ = sleep_until(keepalive_at.unwrap_or_else(Instant::now)), if keepalive_at.is_some() => {
                    if let Err(e) = self.write("t\n").await { return e; }
                    self.push(Waiting::KeepAlive);
                }
            }
        }
    }

    async fn drain(&mut self, idle_since: &mut Instant) -> Result<(), SatError> {
        while let Some(ev) = self.decoder.next_event() {
            let ev = ev.map_err(|source| SatError::Protocol {
                target: self.target.clone(),
                source,
            })?;
            let unexpected = |what: &str| SatError::Protocol {
                target: self.target.clone(),
                source: ucsync_ossi::StreamError {
                    line: String::new(),
                    reason: format!("{what} with nothing waiting for it"),
                },
            };
            match ev {
                ServerEvent::Response(resp) => match self.waiting.pop_front() {
                    Some((Waiting::Command(tx), _)) => {
                        let _ = tx.send(Ok(resp));
                    }
                    _ => return Err(unexpected("a response")),
                },
                ServerEvent::KeepAliveAnswer => match self.waiting.pop_front() {
                    Some((Waiting::KeepAlive, _)) => {}
                    _ => return Err(unexpected("a keep-alive answer")),
                },
                ServerEvent::LogoffPrompt => {
                    self.write("y\n").await?;
                    // The logoff completes when the CM closes the channel.
                    continue;
                }
                ServerEvent::ResourcesUnavailable => {
                    return Err(SatError::ResourcesUnavailable {
                        target: self.target.clone(),
                    });
                }
                ServerEvent::TerminalPrompt | ServerEvent::Ready => {}
            }
            *idle_since = Instant::now();
            if let Some((_, d)) = self.waiting.front_mut() {
                *d = Instant::now() + self.command_timeout;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use russh::keys::ssh_key::certificate::{Builder, CertType};
    use russh::keys::{Algorithm, PrivateKey};

    use super::*;

    fn key() -> PrivateKey {
        PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap()
    }

    fn certificate(host: &PrivateKey, ca: &PrivateKey) -> PublicKeyOrCertificate {
        let mut b =
            Builder::new([7u8; 16], host.public_key().key_data().clone(), 0, u64::MAX).unwrap();
        b.cert_type(CertType::Host).unwrap();
        b.all_principals_valid().unwrap();
        PublicKeyOrCertificate::Certificate(b.sign(ca).unwrap())
    }

    #[test]
    fn a_host_certificate_is_pinned_by_the_key_it_certifies() {
        let (ca, a, b) = (key(), key(), key());
        let plain_a = PublicKeyOrCertificate::from(a.public_key().clone());
        let cert_a = certificate(&a, &ca);
        let cert_b = certificate(&b, &ca);
        assert_eq!(host_fingerprint(&cert_a), host_fingerprint(&plain_a));
        assert!(host_fingerprint(&cert_a).starts_with("SHA256:"));
        assert_ne!(
            host_fingerprint(&cert_a),
            host_fingerprint(&cert_b),
            "another certificate of the same CA is another key"
        );
    }
}
