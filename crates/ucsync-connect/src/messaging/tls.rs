//! How the messaging connector trusts an LDAPS server: by a CA file, by a
//! pinned certificate fingerprint, or by the system's roots — never not at all.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::ConnectError;

/// The SHA-256 fingerprint of a certificate, as `SHA256:AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    let hex: Vec<String> = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("SHA256:{}", hex.join(":"))
}

/// A fingerprint in any of the usual spellings, for comparing: without the
/// `SHA256:` prefix and colons, lower case.
fn normalize(fp: &str) -> String {
    let t = fp.trim();
    let t = if t.len() > 7 && t[..7].eq_ignore_ascii_case("sha256:") {
        &t[7..]
    } else {
        t
    };
    t.chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What the server presented, kept for the error message and the check report.
pub type Seen = Arc<Mutex<Option<String>>>;

#[derive(Debug)]
struct Verifier {
    /// Verifies the chain and name, unless a pin alone decides.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pin: Option<String>,
    seen: Seen,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity);
        *self.seen.lock().expect("seen") = Some(fp.clone());
        if let Some(pin) = &self.pin
            && normalize(pin) != normalize(&fp)
        {
            return Err(rustls::Error::General(format!(
                "the server's certificate {fp} is not the pinned one ({pin})"
            )));
        }
        match &self.webpki {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
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

/// The rustls configuration for one element: a pinned fingerprint alone
/// decides (it names exactly one certificate); otherwise the chain is verified
/// against the CA file, or the system's roots when there is none.
pub fn client_config(
    ca_file: Option<&Path>,
    pin: Option<&str>,
    seen: Seen,
) -> Result<ClientConfig, ConnectError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let webpki = if pin.is_some() {
        None
    } else {
        let mut roots = RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<_, _>>())
                    .map_err(|e| {
                        ConnectError::Refused(format!(
                            "cannot read the CA file {}: {e}",
                            path.display()
                        ))
                    })?;
                if certs.is_empty() {
                    return Err(ConnectError::Refused(format!(
                        "the CA file {} holds no certificate",
                        path.display()
                    )));
                }
                for c in certs {
                    roots.add(c).map_err(|e| {
                        ConnectError::Refused(format!(
                            "the CA file {} holds a certificate rustls refuses: {e}",
                            path.display()
                        ))
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| ConnectError::Refused(format!("cannot verify certificates: {e}")))?,
        )
    };
    let verifier = Arc::new(Verifier {
        webpki,
        pin: pin.map(str::to_string),
        seen,
        provider: provider.clone(),
    });
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Refused(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_compare_in_any_spelling() {
        let fp = fingerprint(b"certificate");
        assert!(fp.starts_with("SHA256:"));
        let bare: String = fp[7..].replace(':', "").to_lowercase();
        assert_eq!(normalize(&fp), bare);
        assert_eq!(normalize(&bare), bare);
        assert_eq!(normalize(&format!("sha256:{bare}")), bare);
    }
}
