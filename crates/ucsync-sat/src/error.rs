//! What can go wrong talking to a CM, as cases a caller can act on.

use std::time::Duration;

use ucsync_ossi::{OssiError, StreamError, ValueError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SatError {
    #[error("cannot connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("{what} timed out after {after:?} on {target}")]
    Timeout {
        target: String,
        what: String,
        after: Duration,
    },
    #[error(
        "host key of {target} is {actual}, but {expected} is pinned: if the CM was replaced, accept the new key"
    )]
    HostKeyMismatch {
        target: String,
        expected: String,
        actual: String,
    },
    #[error("login '{login}' refused by {target}: check the login and password")]
    AuthFailed { target: String, login: String },
    #[error("{target} has no free SAT session (Login resources unavailable)")]
    ResourcesUnavailable { target: String },
    /// The port answered, but not as an SSH server (or not at all).
    #[error(
        "{target} did not answer as an SSH server{heard}; CM SAT is usually on port 5022: check the element's port"
    )]
    NotSsh { target: String, heard: String },
    #[error("SSH error with {target}: {detail}")]
    Ssh { target: String, detail: String },
    #[error("{target} sent output that is not OSSI: {source}")]
    Protocol { target: String, source: StreamError },
    #[error("connection to {target} lost: {detail}")]
    ConnectionLost { target: String, detail: String },
    #[error("'{command}' failed on {target}: {error}")]
    Command {
        target: String,
        command: String,
        error: OssiError,
    },
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] ValueError),
    #[error("the SAT session to {target} is closed")]
    Closed { target: String },
}

impl SatError {
    /// Whether the session this happened on is unusable afterwards.
    pub fn breaks_session(&self) -> bool {
        !matches!(self, SatError::Command { .. } | SatError::InvalidRequest(_))
    }

    /// The CM's error, when the command itself failed.
    pub fn ossi_error(&self) -> Option<&OssiError> {
        match self {
            SatError::Command { error, .. } => Some(error),
            _ => None,
        }
    }
}
