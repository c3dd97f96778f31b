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

use std::path::PathBuf;

use ucsync_tls::{Check, Roots, Seen};

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

/// The rustls connector for `mode`; `None` for plain TCP.
pub fn connector(
    mode: &SslMode,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
    let (roots, names) = match mode {
        SslMode::Plain => return Ok(None),
        SslMode::Require => (Roots::None, false),
        SslMode::VerifyCa(path) => (Roots::CaFile(path.clone()), false),
        SslMode::VerifyFull(Some(path)) => (Roots::CaFile(path.clone()), true),
        SslMode::VerifyFull(None) => (Roots::System, true),
    };
    let check = Check {
        roots,
        pin: None,
        names,
    };
    let config = ucsync_tls::client_config(&check, Seen::default())
        .map_err(|e| StoreError::Database(format!("TLS to PostgreSQL: {e}")))?;
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
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
