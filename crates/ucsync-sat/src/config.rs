//! How to reach and talk to one CM.

use std::net::SocketAddr;
use std::time::Duration;

use ucsync_core::Password;

/// Settings of a connection to one CM.
#[derive(Debug, Clone)]
pub struct SatConfig {
    pub host: String,
    pub port: u16,
    /// The addresses to connect to, resolved and checked by the caller;
    /// empty: `host` is resolved at each connection.
    pub addrs: Vec<SocketAddr>,
    pub login: String,
    pub password: Password,
    /// Any type beginning with `ossi` selects OSSI mode.
    pub terminal_type: String,
    /// The expected host-key fingerprint (`SHA256:…`); a different key is refused.
    pub host_key: Option<String>,
    pub connect_timeout: Duration,
    pub login_timeout: Duration,
    /// How long one command may take, from sending it to the end of its answer.
    pub command_timeout: Duration,
    /// How long closing waits for a session to log off (after the answers
    /// still in flight) before it drops the connection instead.
    pub logoff_timeout: Duration,
    /// Commands in flight on one session.
    pub window: usize,
    /// SAT sessions per CM.
    pub sessions: usize,
    /// A lone `t` is sent after this much idle time, to keep the session open.
    pub keepalive: Option<Duration>,
    /// Attempts for a command the CM answers with "data locked" or "in use".
    pub transient_attempts: u32,
    /// First wait before a retry or a reconnect; it doubles each time.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl SatConfig {
    /// SAT sessions per CM unless set otherwise.
    pub const DEFAULT_SESSIONS: usize = 2;

    pub fn new(
        host: impl Into<String>,
        port: u16,
        login: impl Into<String>,
        password: Password,
    ) -> Self {
        SatConfig {
            host: host.into(),
            port,
            addrs: Vec::new(),
            login: login.into(),
            password,
            terminal_type: "ossi4".into(),
            host_key: None,
            connect_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(20),
            command_timeout: Duration::from_secs(60),
            logoff_timeout: Duration::from_secs(5),
            window: 32,
            sessions: Self::DEFAULT_SESSIONS,
            keepalive: Some(Duration::from_secs(60)),
            transient_attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// `host:port`, for messages.
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
