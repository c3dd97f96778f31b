//! TLS to PostgreSQL, as libpq reads a URL: `sslmode` (`disable`, `prefer`,
//! `require`, `verify-ca`, `verify-full`) and `sslrootcert` (the CA file),
//! through rustls.
//!
//! - `require`: the connection is encrypted; the certificate is not checked
//!   (libpq's meaning — say `verify-full` to be sure of the server).
//! - `verify-ca`: the certificate must chain to `sslrootcert`; its name is
//!   not checked.
//! - `verify-full`: it must also name the host connected to; without
//!   `sslrootcert`, it is checked against the system's trust store.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require`: the URL it is
//! given has the verifying modes as `require` and no `sslrootcert`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::StoreError;

/// How the connection to PostgreSQL is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslMode {
    /// No `sslmode`, `disable`, `allow` or `prefer`: plain TCP, as before
    /// TLS was possible (`prefer` would fall back to plain on any TLS
    /// failure, which protects nothing a listener could not strip).
    Plain,
    /// Encrypted, the certificate not checked.
    Require,
    /// The certificate chains to this CA file; its name is not checked.
    VerifyCa(PathBuf),
    /// The certificate chains to this CA file (or the system's roots) and
    /// names the host.
    VerifyFull(Option<PathBuf>),
}

/// A database URL split into what tokio-postgres reads and how TLS is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The URL for tokio-postgres: `sslmode` as it knows it, no `sslrootcert`.
    pub url: String,
    pub mode: SslMode,
}

fn invalid(msg: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("invalid postgresql url: {msg}"))
}

/// Reads `sslmode` and `sslrootcert` from a `postgres://` URL's query; a
/// libpq `key=value` string is left to tokio-postgres, without TLS.
pub fn parse(url: &str) -> Result<PgUrl, StoreError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(PgUrl {
            url: url.to_string(),
            mode: SslMode::Plain,
        });
    }
    let mut parsed = url::Url::parse(url).map_err(invalid)?;
    let mut mode = None;
    let mut root = None;
    let mut kept = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "sslmode" => mode = Some(v.into_owned()),
            "sslrootcert" => root = Some(PathBuf::from(v.as_ref())),
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    let mode = match (mode.as_deref(), root) {
        (None | Some("disable" | "allow" | "prefer"), _) => SslMode::Plain,
        (Some("require"), _) => SslMode::Require,
        (Some("verify-ca"), Some(root)) => SslMode::VerifyCa(root),
        (Some("verify-ca"), None) => {
            return Err(invalid(
                "sslmode=verify-ca needs sslrootcert=FILE, the CA that signed the server's certificate",
            ));
        }
        (Some("verify-full"), root) => SslMode::VerifyFull(root),
        (Some(other), _) => {
            return Err(invalid(format!(
                "sslmode={other} is none of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    if mode != SslMode::Plain {
        kept.push(("sslmode".into(), "require".into()));
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok(PgUrl {
        url: parsed.into(),
        mode,
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn ca_roots(path: &Path) -> Result<RootCertStore, StoreError> {
    let bad = |e: &dyn std::fmt::Display| {
        StoreError::Database(format!("sslrootcert {}: {e}", path.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"holds no certificate"));
    }
    Ok(roots)
}

/// The rustls connector for `mode`; `None` for plain TCP.
pub fn connector(
    mode: &SslMode,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
    let provider = provider();
    let chain = |path: &Path| -> Result<Arc<dyn ServerCertVerifier>, StoreError> {
        WebPkiServerVerifier::builder_with_provider(Arc::new(ca_roots(path)?), provider.clone())
            .build()
            .map(|v| v as Arc<dyn ServerCertVerifier>)
            .map_err(|e| StoreError::Database(format!("sslrootcert {}: {e}", path.display())))
    };
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Plain => return Ok(None),
        SslMode::Require => Arc::new(AnyName {
            chain: None,
            provider: provider.clone(),
        }),
        SslMode::VerifyCa(path) => Arc::new(AnyName {
            chain: Some(chain(path)?),
            provider: provider.clone(),
        }),
        SslMode::VerifyFull(Some(path)) => chain(path)?,
        SslMode::VerifyFull(None) => Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                StoreError::Database(format!("cannot load the system's trust store: {e}"))
            })?,
        ),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Database(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

/// `require` (no chain) and `verify-ca` (a chain, whatever name the
/// certificate gives): the handshake's signatures are checked either way.
#[derive(Debug)]
struct AnyName {
    chain: Option<Arc<dyn ServerCertVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
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
    fn the_url_keeps_what_tokio_postgres_reads_and_gives_the_mode() {
        let p = |u: &str| parse(u).unwrap();
        assert_eq!(p("postgres://u@127.0.0.1/test").mode, SslMode::Plain);
        assert_eq!(
            p("postgres://u@127.0.0.1/test?sslmode=prefer").url,
            "postgres://u@127.0.0.1/test"
        );
        let r = p("postgres://u@127.0.0.1:5433/test?sslmode=require&connect_timeout=5");
        assert_eq!(r.mode, SslMode::Require);
        assert_eq!(
            r.url,
            "postgres://u@127.0.0.1:5433/test?connect_timeout=5&sslmode=require"
        );
        let v = p("postgres://u@localhost/test?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem");
        assert_eq!(
            v.mode,
            SslMode::VerifyFull(Some(PathBuf::from("/etc/ca.pem")))
        );
        assert_eq!(v.url, "postgres://u@localhost/test?sslmode=require");
        assert_eq!(
            p("postgres://u@localhost/test?sslmode=verify-ca&sslrootcert=ca.pem").mode,
            SslMode::VerifyCa(PathBuf::from("ca.pem"))
        );
        assert_eq!(
            p("postgres://u@localhost/test?sslmode=verify-full").mode,
            SslMode::VerifyFull(None)
        );
        for (bad, says) in [
            (
                "postgres://u@localhost/test?sslmode=verify-ca",
                "sslrootcert",
            ),
            (
                "postgres://u@localhost/test?sslmode=always",
                "sslmode=always",
            ),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_ca_file_that_holds_no_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "").unwrap();
        let e = connector(&SslMode::VerifyCa(empty.clone()))
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(&empty.display().to_string()), "{e}");
    }
}
