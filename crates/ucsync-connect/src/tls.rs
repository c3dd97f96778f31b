//! TLS to an element (an IP Office over HTTPS, a directory over LDAPS): the
//! certificate is always verified — against a CA file, against a pinned
//! fingerprint, or else against the system's trust store — and its
//! fingerprint is kept so `check` can report it and the runner can pin it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

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

/// What the element presented, kept for error messages and the check report.
pub type Seen = Arc<Mutex<Option<String>>>;

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

/// `SHA256:` and the digest in lower-case hex pairs separated by colons.
pub fn format_fingerprint(digest: &[u8]) -> String {
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("SHA256:{}", hex.join(":"))
}

/// The fingerprint of a DER certificate.
pub fn fingerprint_of(der: &[u8]) -> String {
    format_fingerprint(&Sha256::digest(der))
}

/// Reads a pinned certificate fingerprint: SHA-256 in hex, with or without
/// colons and a `SHA256:` prefix, in either case.
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], String> {
    let t = s.trim();
    let t = match t.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256:") => &t[7..],
        _ => t,
    };
    let hex: String = t.chars().filter(|c| *c != ':').collect();
    let bad = || {
        format!(
            "'{s}' is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed, e.g. as `openssl x509 -noout -fingerprint -sha256` prints it)"
        )
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[derive(Debug)]
struct Verifier {
    /// The chain check (CA file or system store); `None` with a pin.
    chain: Option<Arc<dyn ServerCertVerifier>>,
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
    seen: Arc<Mutex<Option<String>>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        *self.seen.lock().expect("fingerprint") = Some(format_fingerprint(&digest));
        if let Some(pin) = &self.pin
            && *pin != digest
        {
            return Err(rustls::Error::General(format!(
                "the certificate's fingerprint {} is not the pinned {}: if the certificate was replaced on purpose, pin the new one",
                format_fingerprint(&digest),
                format_fingerprint(pin)
            )));
        }
        match &self.chain {
            Some(chain) => {
                chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn ca_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
    for c in certs {
        let c = c.map_err(|e| format!("the CA file {} is not PEM: {e}", path.display()))?;
        roots.add(c).map_err(|e| {
            format!(
                "the CA file {} holds a bad certificate: {e}",
                path.display()
            )
        })?;
    }
    if roots.is_empty() {
        return Err(format!(
            "the CA file {} holds no certificate",
            path.display()
        ));
    }
    Ok(roots)
}

/// A client configuration that checks the certificate as `trust` says and
/// records its fingerprint in `seen`.
pub fn client_config(
    trust: &Trust,
    seen: Arc<Mutex<Option<String>>>,
) -> Result<rustls::ClientConfig, String> {
    let provider = provider();
    let (chain, pin): (Option<Arc<dyn ServerCertVerifier>>, _) = match trust {
        Trust::Pinned(pin) => (None, Some(*pin)),
        Trust::CaFile(path) => (
            Some(
                WebPkiServerVerifier::builder_with_provider(
                    Arc::new(ca_roots(path)?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("cannot use the CA file {}: {e}", path.display()))?,
            ),
            None,
        ),
        Trust::System => (
            Some(Arc::new(
                rustls_platform_verifier::Verifier::new(provider.clone())
                    .map_err(|e| format!("cannot load the system's trust store: {e}"))?,
            )),
            None,
        ),
    };
    let verifier = Verifier {
        chain,
        pin,
        provider: provider.clone(),
        seen,
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_the_usual_spellings() {
        let d: Vec<u8> = (0u8..32).collect();
        let canonical = format_fingerprint(&d);
        assert!(canonical.starts_with("SHA256:00:01:02"), "{canonical}");
        let plain: String = d.iter().map(|b| format!("{b:02X}")).collect();
        for s in [
            canonical.clone(),
            canonical.to_uppercase(),
            plain.clone(),
            format!("sha256:{plain}"),
            format!("  {canonical} "),
        ] {
            assert_eq!(parse_fingerprint(&s).unwrap().to_vec(), d, "{s}");
        }
        for bad in [
            "",
            "SHA256:abc",
            "SHA256:AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            &"zz".repeat(32),
        ] {
            assert!(parse_fingerprint(bad).is_err(), "{bad}");
        }
    }
}
