//! TLS to an element (an IP Office over HTTPS, a directory over LDAPS): the
//! certificate is always verified — against a CA file, against a pinned
//! fingerprint, or else against the system's trust store — and its
//! fingerprint is kept so `check` can report it and the runner can pin it.

use ucsync_tls::{Check, Roots};
pub use ucsync_tls::{Seen, fingerprint_of, format_fingerprint, parse_fingerprint};

use crate::ConnectError;

/// How the element's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Against the system's trust store.
    System,
    /// Against the CA certificates in this PEM file.
    CaFile(std::path::PathBuf),
    /// The certificate itself must have this SHA-256 fingerprint.
    Pinned([u8; 32]),
}

impl Trust {
    /// From an element's settings: `tls` on (off when unset), checked
    /// against `ca_file` when given, else against the pinned certificate
    /// fingerprint, else against the system's trust store.
    pub fn from_settings(
        tls: Option<bool>,
        ca_file: Option<&str>,
        pinned: Option<&str>,
    ) -> Result<Option<Trust>, ConnectError> {
        if tls != Some(true) {
            return Ok(None);
        }
        Ok(Some(match (ca_file, pinned) {
            (Some(ca), _) => Trust::CaFile(ca.into()),
            (None, Some(pin)) => {
                Trust::Pinned(parse_fingerprint(pin).map_err(ConnectError::refused)?)
            }
            (None, None) => Trust::System,
        }))
    }
}

impl Trust {
    /// Whether a failed handshake failed because the element presented
    /// another certificate than the pinned one (`seen`): the element is not
    /// the one pinned, as a CM with another SSH host key is not.
    pub fn pin_refused(&self, seen: &Seen) -> bool {
        let Trust::Pinned(pin) = self else {
            return false;
        };
        let seen = seen.lock().expect("fingerprint");
        seen.as_deref()
            .is_some_and(|fp| parse_fingerprint(fp).ok() != Some(*pin))
    }
}

/// A client configuration that checks the certificate as `trust` says and
/// records its fingerprint in `seen`.
pub fn client_config(trust: &Trust, seen: Seen) -> Result<rustls::ClientConfig, String> {
    let check = match trust {
        Trust::System => Check {
            roots: Roots::System,
            pin: None,
            names: true,
        },
        Trust::CaFile(path) => Check {
            roots: Roots::CaFile(path.clone()),
            pin: None,
            names: true,
        },
        Trust::Pinned(pin) => Check {
            roots: Roots::None,
            pin: Some(*pin),
            names: true,
        },
    };
    ucsync_tls::client_config(&check, seen)
}
