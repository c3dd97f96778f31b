//! How every TLS client of ucsync checks the server's certificate — an IP
//! Office over HTTPS, a directory over LDAPS, the CLI to an `https://`
//! service, the store to PostgreSQL — in one place: which roots the chain
//! must reach (a CA file, the system's trust store, or none), a pinned
//! SHA-256 fingerprint, and whether the certificate must name the host. The
//! handshake's signatures are always checked, and the fingerprint of what
//! the server presented is kept for reports and pinning.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

/// What the chain of the server's certificate must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// Nothing: the chain is not checked (a pin, or encryption only).
    None,
    /// The CA certificates in this PEM file.
    CaFile(PathBuf),
    /// The system's trust store.
    System,
}

/// How a server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub roots: Roots,
    /// The certificate itself must have this SHA-256 fingerprint.
    pub pin: Option<[u8; 32]>,
    /// Whether the certificate must name the host connected to (libpq's
    /// `verify-ca` does not ask it).
    pub names: bool,
}

/// The fingerprint of what the server presented, once the handshake has
/// seen it.
pub type Seen = Arc<Mutex<Option<String>>>;

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

/// The crypto provider of every TLS client: aws-lc-rs, as the rest of the
/// build.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
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

/// A client configuration that checks the server's certificate as `check`
/// says and records its fingerprint in `seen`.
pub fn client_config(check: &Check, seen: Seen) -> Result<rustls::ClientConfig, String> {
    let provider = provider();
    let chain: Option<Arc<dyn ServerCertVerifier>> = match &check.roots {
        Roots::None => None,
        Roots::CaFile(path) => Some(
            WebPkiServerVerifier::builder_with_provider(
                Arc::new(ca_roots(path)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("cannot use the CA file {}: {e}", path.display()))?,
        ),
        Roots::System => Some(Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("cannot load the system's trust store: {e}"))?,
        )),
    };
    let verifier = Verifier {
        chain,
        pin: check.pin,
        names: check.names,
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

#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<dyn ServerCertVerifier>>,
    pin: Option<[u8; 32]>,
    names: bool,
    provider: Arc<CryptoProvider>,
    seen: Seen,
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
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            other => other,
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

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let check = |path: &Path| Check {
            roots: Roots::CaFile(path.to_path_buf()),
            pin: None,
            names: true,
        };
        let err = client_config(&check(&empty), Seen::default()).unwrap_err();
        assert!(
            err.contains("holds no certificate") && err.contains("empty.pem"),
            "{err}"
        );
        let err =
            client_config(&check(&dir.path().join("absent.pem")), Seen::default()).unwrap_err();
        assert!(err.contains("cannot read the CA file"), "{err}");
    }
}
