//! The SSH side of the emulated CM: authentication, PTY and shell, the SAT
//! session with its terminal-type prompt, pipelined OSSI input, logoff, the
//! session limit, and the fault injections.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PrivateKey};
use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, MethodKind, MethodSet, Pty};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use ucsync_ossi::vocabulary::Vocabulary;
use ucsync_ossi::{
    LOGOFF_PROMPT, LineBuffer, NO_COMMAND_ACTIVE, RESOURCES_UNAVAILABLE, RequestAssembler,
    RequestEvent, TERMINAL_PROMPT, encode_echo, encode_error, is_ossi_terminal,
};

use super::core::{Cm, SessionCtx};

/// Faults to inject into every SAT session, for testing clients.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Drop the connection in the middle of the output after this many records.
    pub cut_after_records: Option<u64>,
    /// Stop sending anything after this many records, keeping the connection open.
    pub stall_after_records: Option<u64>,
    /// Garble every N-th line of output.
    pub garble_every: Option<u64>,
    /// Drop the connection, without answering, once the N-th change command
    /// (add, change, remove, duplicate) of the session has been made: the
    /// change is committed, the client never learns it.
    pub cut_after_changes: Option<u64>,
}

pub(super) struct Shared {
    pub cm: Arc<Cm>,
    pub logins: HashMap<String, String>,
    /// Read when a session starts, so a test can change them between sessions.
    pub faults: Mutex<Faults>,
    pub banner: String,
    slots: Mutex<Vec<bool>>,
    next_id: AtomicU64,
}

impl Shared {
    pub(super) fn new(
        cm: Arc<Cm>,
        logins: HashMap<String, String>,
        max_sessions: usize,
        faults: Faults,
        banner: String,
    ) -> Self {
        Shared {
            cm,
            logins,
            faults: Mutex::new(faults),
            banner,
            slots: Mutex::new(vec![false; max_sessions]),
            next_id: AtomicU64::new(1),
        }
    }

    fn take_slot(self: &Arc<Self>) -> Option<Slot> {
        let mut slots = self.slots.lock().expect("slots");
        let i = slots.iter().position(|used| !used)?;
        slots[i] = true;
        Some(Slot {
            shared: self.clone(),
            index: i,
        })
    }
}

/// A SAT port in use; freed when the session ends however it ends.
struct Slot {
    shared: Arc<Shared>,
    index: usize,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.slots.lock().expect("slots")[self.index] = false;
    }
}

/// Loads the host keys kept at `path` (Ed25519) and `path.ecdsa` (ECDSA P-256),
/// creating them when missing, so a restarted emulator keeps its identity.
/// Without a path the keys are new each start.
pub fn host_keys(path: Option<&Path>) -> Result<Vec<PrivateKey>> {
    let specs = [
        (Algorithm::Ed25519, ""),
        (
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
            ".ecdsa",
        ),
    ];
    let mut keys = Vec::new();
    for (alg, suffix) in specs {
        let key = match path {
            None => PrivateKey::random(&mut rand::rng(), alg)?,
            Some(p) => {
                let p = p.with_file_name(format!(
                    "{}{suffix}",
                    p.file_name().and_then(|n| n.to_str()).unwrap_or("host_key")
                ));
                if p.exists() {
                    PrivateKey::read_openssh_file(&p)
                        .with_context(|| format!("cannot read host key {}", p.display()))?
                } else {
                    let k = PrivateKey::random(&mut rand::rng(), alg)?;
                    k.write_openssh_file(&p, russh::keys::ssh_key::LineEnding::LF)
                        .with_context(|| format!("cannot write host key {}", p.display()))?;
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
                    }
                    k
                }
            }
        };
        keys.push(key);
    }
    Ok(keys)
}

/// The OpenSSH-style fingerprint (`SHA256:…`) of a host key.
pub fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

pub(super) fn russh_config(keys: Vec<PrivateKey>) -> russh::server::Config {
    use russh::kex;
    russh::server::Config {
        server_id: russh::SshId::Standard(Cow::Borrowed("SSH-2.0-OpenSSH_8.0 ucsync-cm-emulator")),
        methods: MethodSet::from(&[MethodKind::KeyboardInteractive, MethodKind::Password][..]),
        auth_rejection_time: std::time::Duration::from_millis(500),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        keys,
        inactivity_timeout: Some(std::time::Duration::from_secs(3600)),
        nodelay: true,
        preferred: russh::Preferred {
            // What current OpenSSH, paramiko and libssh2 1.10 clients can all agree on.
            kex: Cow::Owned(vec![
                kex::CURVE25519,
                kex::CURVE25519_PRE_RFC_8731,
                kex::ECDH_SHA2_NISTP256,
                kex::DH_G14_SHA256,
                kex::DH_GEX_SHA256,
                kex::DH_G16_SHA512,
                kex::EXTENSION_SUPPORT_AS_SERVER,
                kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
            ]),
            ..russh::Preferred::default()
        },
        ..Default::default()
    }
}

/// Serves SSH on `listener` until `cancel` fires.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    config: russh::server::Config,
    cancel: CancellationToken,
) -> Result<()> {
    use russh::server::Server as _;
    let mut server = Server { shared };
    let running = server.run_on_socket(Arc::new(config), &listener);
    let handle = running.handle();
    tokio::select! {
        r = running => r.context("SSH server failed")?,
        _ = cancel.cancelled() => handle.shutdown("emulator stopping".into()),
    }
    Ok(())
}

struct Server {
    shared: Arc<Shared>,
}

impl russh::server::Server for Server {
    type Handler = Conn;
    fn new_client(&mut self, peer: Option<std::net::SocketAddr>) -> Conn {
        tracing::debug!(?peer, "SSH connection");
        Conn {
            shared: self.shared.clone(),
            user: None,
            channel: None,
            crlf: false,
        }
    }
}

struct Conn {
    shared: Arc<Shared>,
    user: Option<String>,
    channel: Option<Channel<Msg>>,
    crlf: bool,
}

impl Conn {
    fn check(&mut self, user: &str, password: &str) -> Auth {
        if self.shared.logins.get(user).is_some_and(|p| p == password) {
            self.user = Some(user.to_string());
            Auth::Accept
        } else {
            tracing::info!(login = %user, "SAT login refused");
            Auth::reject()
        }
    }
}

impl russh::server::Handler for Conn {
    type Error = anyhow::Error;

    async fn authentication_banner(&mut self) -> Result<Option<String>> {
        Ok(Some(self.shared.banner.clone()))
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth> {
        Ok(self.check(user, password))
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _sub: &str,
        response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth> {
        match response {
            None => Ok(Auth::Partial {
                name: Cow::Borrowed(""),
                instructions: Cow::Borrowed(""),
                prompts: Cow::Owned(vec![(Cow::Borrowed("Password: "), false)]),
            }),
            Some(mut r) => {
                let answer = r
                    .next()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                Ok(self.check(user, &answer))
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _s: &mut Session,
    ) -> Result<()> {
        if self.channel.is_some() {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        reply.accept().await;
        self.channel = Some(channel);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _c: u32,
        _r: u32,
        _pw: u32,
        _ph: u32,
        modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<()> {
        // A terminal that maps NL to CR-NL gets CR-NL, as from a real tty.
        self.crlf = modes.iter().any(|(m, v)| *m == Pty::ONLCR && *v != 0);
        session.channel_success(channel)?;
        Ok(())
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<()> {
        let Some(ch) = self.channel.take().filter(|c| c.id() == channel) else {
            session.channel_failure(channel)?;
            return Ok(());
        };
        session.channel_success(channel)?;
        let shared = self.shared.clone();
        let login = self.user.clone().unwrap_or_default();
        let crlf = self.crlf;
        let handle = session.handle();
        tokio::spawn(async move {
            if let Err(e) = sat_session(shared, ch, login, crlf, handle).await {
                tracing::debug!(error = %e, "SAT session ended");
            }
        });
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<()> {
        session.channel_failure(channel)?;
        Ok(())
    }
}

enum State {
    TerminalType,
    Commands,
    Logoff,
}

/// Writes output with the session's line endings and faults.
struct Output<W> {
    w: W,
    crlf: bool,
    faults: Faults,
    lines: u64,
    records: u64,
    in_record: bool,
    stalled: bool,
}

enum Sent {
    Ok,
    Cut,
}

impl<W: tokio::io::AsyncWrite + Unpin> Output<W> {
    async fn send(&mut self, text: &str) -> std::io::Result<Sent> {
        if self.stalled {
            return Ok(Sent::Ok);
        }
        let mut buf = String::with_capacity(text.len() + text.len() / 16);
        for line in text.split_inclusive('\n') {
            let body = line.strip_suffix('\n').unwrap_or(line);
            self.lines += 1;
            if self
                .faults
                .garble_every
                .is_some_and(|n| n > 0 && self.lines % n == 0)
            {
                buf.push_str("\u{1}\u{7f}garbled\u{fffd}");
            } else {
                buf.push_str(body);
            }
            if line.ends_with('\n') {
                buf.push_str(if self.crlf { "\r\n" } else { "\n" });
            }
            match body.as_bytes().first() {
                Some(b'd') => self.in_record = true,
                Some(b'n') | Some(b't') if self.in_record && body.len() == 1 => {
                    self.in_record = false;
                    self.records += 1;
                    if self
                        .faults
                        .cut_after_records
                        .is_some_and(|n| self.records >= n)
                    {
                        // Cut in the middle of the next line.
                        self.w.write_all(buf.as_bytes()).await?;
                        self.w.write_all(b"d10").await?;
                        self.w.flush().await?;
                        return Ok(Sent::Cut);
                    }
                    if self
                        .faults
                        .stall_after_records
                        .is_some_and(|n| self.records >= n)
                    {
                        self.w.write_all(buf.as_bytes()).await?;
                        self.w.flush().await?;
                        self.stalled = true;
                        return Ok(Sent::Ok);
                    }
                }
                _ => {}
            }
        }
        self.w.write_all(buf.as_bytes()).await?;
        self.w.flush().await?;
        Ok(Sent::Ok)
    }
}

/// Whether a command's verb (as typed, perhaps abbreviated) makes a change.
fn is_change(verb: &str) -> bool {
    Vocabulary::builtin()
        .resolve_verb(verb)
        .is_ok_and(|v| matches!(v, "add" | "change" | "remove" | "duplicate"))
}

async fn sat_session(
    shared: Arc<Shared>,
    channel: Channel<Msg>,
    login: String,
    crlf: bool,
    handle: russh::server::Handle,
) -> Result<()> {
    let (mut rd, wr) = channel.split();
    let mut out = Output {
        w: wr.make_writer(),
        crlf,
        faults: *shared.faults.lock().expect("faults"),
        lines: 0,
        records: 0,
        in_record: false,
        stalled: false,
    };
    let Some(slot) = shared.take_slot() else {
        out.send(&format!("{RESOURCES_UNAVAILABLE}\n")).await?;
        wr.eof().await.ok();
        wr.close().await.ok();
        return Ok(());
    };
    let ctx = SessionCtx::new(
        shared.next_id.fetch_add(1, Ordering::Relaxed),
        login,
        format!("SSH{:02}", slot.index + 1),
    );
    out.send(&format!("{TERMINAL_PROMPT}\n")).await?;
    let mut lines = LineBuffer::new();
    let mut assembler = RequestAssembler::new();
    let mut state = State::TerminalType;
    let cm = shared.cm.clone();
    let mut changes = 0u64;
    loop {
        let Some(msg) = rd.wait().await else { break };
        let data = match msg {
            ChannelMsg::Data { data } => data,
            ChannelMsg::Eof | ChannelMsg::Close => break,
            _ => continue,
        };
        lines.extend(&data);
        while let Some(line) = lines.next_line() {
            match state {
                State::TerminalType => {
                    let term = match &line {
                        ucsync_ossi::Line::Text(t) => t.trim().to_string(),
                        ucsync_ossi::Line::TooLong { .. } => String::new(),
                    };
                    if is_ossi_terminal(&term) {
                        out.send(&format!("{term}\nt\n")).await?;
                        cm.log_session(&ctx, true);
                        state = State::Commands;
                    } else {
                        out.send(&format!("{term}\nTerminal type not supported here: use ossi, ossi4, ossie or ossit\n{TERMINAL_PROMPT}\n")).await?;
                    }
                }
                State::Logoff => {
                    if matches!(&line, ucsync_ossi::Line::Text(t) if t.trim().eq_ignore_ascii_case("y"))
                    {
                        cm.log_session(&ctx, false);
                        drop(slot);
                        wr.exit_status(0).await.ok();
                        wr.eof().await.ok();
                        wr.close().await.ok();
                        return Ok(());
                    }
                    out.send("t\n").await?;
                    state = State::Commands;
                }
                State::Commands => match assembler.push(line) {
                    None | Some(RequestEvent::Junk(_)) => {}
                    Some(RequestEvent::KeepAlive) => {
                        out.send(&format!("{NO_COMMAND_ACTIVE}\nt\n")).await?;
                    }
                    Some(RequestEvent::Malformed { raw, reason }) => {
                        let mut text = String::new();
                        encode_echo(&mut text, &raw);
                        encode_error(
                            &mut text,
                            &ucsync_ossi::OssiError::new(
                                ucsync_ossi::ErrorKind::Malformed,
                                None,
                                reason,
                            ),
                        );
                        text.push_str("t\n");
                        out.send(&text).await?;
                    }
                    Some(RequestEvent::Command(req)) => {
                        let first = req.text().split_whitespace().next().unwrap_or_default();
                        if Vocabulary::builtin()
                            .resolve_verb(first)
                            .is_ok_and(|v| v == "logoff")
                        {
                            let mut text = String::new();
                            encode_echo(&mut text, req.raw());
                            text.push_str(LOGOFF_PROMPT);
                            text.push('\n');
                            out.send(&text).await?;
                            state = State::Logoff;
                            continue;
                        }
                        let answer = cm.execute(&ctx, &req).await;
                        if let Some(n) = out.faults.cut_after_changes
                            && is_change(first)
                            && !answer.lines().any(|l| l.starts_with('e'))
                        {
                            changes += 1;
                            if changes >= n {
                                tracing::info!(
                                    session = ctx.id,
                                    "fault: cutting the connection after a change"
                                );
                                handle
                                    .disconnect(
                                        russh::Disconnect::ByApplication,
                                        "connection cut".into(),
                                        "en".into(),
                                    )
                                    .await
                                    .ok();
                                return Ok(());
                            }
                        }
                        if let Sent::Cut = out.send(&answer).await? {
                            tracing::info!(session = ctx.id, "fault: cutting the connection");
                            handle
                                .disconnect(
                                    russh::Disconnect::ByApplication,
                                    "connection cut".into(),
                                    "en".into(),
                                )
                                .await
                                .ok();
                            return Ok(());
                        }
                    }
                },
            }
        }
    }
    drop(slot);
    Ok(())
}
