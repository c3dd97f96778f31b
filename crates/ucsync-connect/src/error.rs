//! What can go wrong talking to an element, the same cases for every kind:
//! each connector (CM over SAT, IP Office over HTTP, messaging over LDAP)
//! maps its own failures into [`ConnectError`], so that a caller — the
//! engine, the API — tells them apart without knowing the element's kind,
//! and the same failure reads the same for a CM, an IP Office and a
//! messaging system.

use std::sync::Arc;

/// A failure talking to an element.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// The element did not answer: no connection, or no answer in time.
    #[error(transparent)]
    Unreachable(Cause),
    /// The element refused ucsync's login (a wrong login or password).
    #[error(transparent)]
    LoginRefused(Cause),
    /// The element is not the one pinned: its SSH host key or its TLS
    /// certificate is not the pinned one. Nothing was sent to it.
    #[error(transparent)]
    IdentityMismatch(Cause),
    /// The element, or ucsync before sending anything, refused the request:
    /// a command the element answered with an error, a change it would not
    /// make, settings that cannot be used. Nothing was changed.
    #[error(transparent)]
    Refused(Cause),
    /// The element answered, but not as ucsync expects: output it cannot
    /// read, another protocol on the port, a connection it broke, no
    /// session free for ucsync.
    #[error(transparent)]
    Protocol(Cause),
    #[error("unknown object type '{0}'")]
    UnknownType(String),
    /// A key that is not of its object type's grammar; nothing was sent.
    #[error("{0}")]
    InvalidKey(String),
    /// The element's address is outside the element networks: nothing
    /// was sent to it.
    #[error(transparent)]
    NotAllowed(#[from] ucsync_core::HostNotAllowed),
}

/// Why a connection or a request failed: the words a caller shows, and the
/// error of the protocol's own client they come from, kept as the
/// [`std::error::Error::source`].
#[derive(Debug, Clone)]
pub struct Cause {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    /// Nothing reached the element before it failed (the connection or the
    /// login did), so a write that failed so was surely not made.
    unsent: bool,
}

impl Cause {
    /// A failure told in words alone.
    pub fn new(message: impl Into<String>) -> Cause {
        Cause {
            message: message.into(),
            source: None,
            unsent: false,
        }
    }

    /// A failure of a protocol client, told in that error's own words.
    pub fn of<E: std::error::Error + Send + Sync + 'static>(error: E) -> Cause {
        Cause {
            message: error.to_string(),
            source: Some(Arc::new(error)),
            unsent: false,
        }
    }

    /// A failure of a protocol client, told in other words (which name
    /// the element and what ucsync was doing), the client's error kept.
    pub fn with_source<E: std::error::Error + Send + Sync + 'static>(
        message: impl Into<String>,
        error: E,
    ) -> Cause {
        Cause {
            message: message.into(),
            source: Some(Arc::new(error)),
            unsent: false,
        }
    }

    /// Says that nothing reached the element before it failed.
    pub fn unsent(mut self) -> Cause {
        self.unsent = true;
        self
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Cause {
        Cause::new(message)
    }
}

impl ConnectError {
    pub fn unreachable(message: impl Into<String>) -> ConnectError {
        ConnectError::Unreachable(Cause::new(message))
    }

    pub fn login_refused(message: impl Into<String>) -> ConnectError {
        ConnectError::LoginRefused(Cause::new(message))
    }

    pub fn identity_mismatch(message: impl Into<String>) -> ConnectError {
        ConnectError::IdentityMismatch(Cause::new(message))
    }

    pub fn refused(message: impl Into<String>) -> ConnectError {
        ConnectError::Refused(Cause::new(message))
    }

    pub fn protocol(message: impl Into<String>) -> ConnectError {
        ConnectError::Protocol(Cause::new(message))
    }

    /// Whether the element networks forbid its address (nothing was sent).
    pub fn is_not_allowed(&self) -> bool {
        matches!(self, ConnectError::NotAllowed(_))
    }

    /// Whether the element did not answer at all (so another address may).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ConnectError::Unreachable(_))
    }

    /// Whether a write that failed so may have been made all the same: the
    /// command may have reached the element before its answer was lost (a
    /// timeout, a cut connection, a garbled answer). Only a refusal, or a
    /// failure before anything was sent, is sure to have changed nothing.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ConnectError::Unreachable(c) | ConnectError::Protocol(c) => !c.unsent,
            ConnectError::LoginRefused(_)
            | ConnectError::IdentityMismatch(_)
            | ConnectError::Refused(_)
            | ConnectError::UnknownType(_)
            | ConnectError::InvalidKey(_)
            | ConnectError::NotAllowed(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_keeps_its_source_and_its_words() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = ConnectError::Unreachable(Cause::of(io));
        assert_eq!(e.to_string(), "refused");
        let source = std::error::Error::source(&e);
        assert!(
            source.is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()),
            "{e:?}"
        );
        assert!(e.is_unreachable() && e.outcome_unknown());
        let unsent = ConnectError::Unreachable(Cause::new("no route").unsent());
        assert!(unsent.is_unreachable() && !unsent.outcome_unknown());
        assert!(!ConnectError::refused("no").outcome_unknown());
        assert!(ConnectError::protocol("cut").outcome_unknown());
    }
}
