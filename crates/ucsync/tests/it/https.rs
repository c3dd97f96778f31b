//! HTTPS for the API: `ucsync serve` with a certificate, the CLI checking
//! it (CA file, pinned fingerprint, the data directory's own certificate;
//! a wrong CA refused), HTTP/2 and HSTS, `--insecure-http`, and a renewed
//! certificate taken by the running service without dropping connections.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use ucsync_connect::tls::{Trust, client_config, fingerprint_of};
use ucsync_testkit::pki::{Ca, LOOPBACK_NAMES, Leaf};

use crate::cli::BIN;
use crate::service::Serve;

/// A CA of the test's own, written to `<dir>/<name>.pem`.
fn ca(dir: &Path, name: &str) -> Ca {
    let ca = Ca::new();
    ca.write(&dir.join(format!("{name}.pem")));
    ca
}

/// A certificate for 127.0.0.1 signed by `issuer` (self-signed without
/// one), written to `cert` and `key`; returns its fingerprint.
fn certificate(issuer: Option<&Ca>, cert: &Path, key: &Path) -> String {
    let leaf = match issuer {
        Some(ca) => ca.sign(LOOPBACK_NAMES),
        None => Leaf::self_signed(LOOPBACK_NAMES),
    };
    leaf.write(cert, key);
    leaf.fingerprint()
}

fn tls_env<'a>(cert: &'a Path, key: &'a Path) -> [(&'static str, &'a str); 2] {
    [
        ("UCSYNC_HTTP_TLS_CERT", cert.to_str().unwrap()),
        ("UCSYNC_HTTP_TLS_KEY", key.to_str().unwrap()),
    ]
}

/// `ucsync element list` against `serve` with these trust flags.
fn cli(serve: &Serve, data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args([
            "element", "list", "--output", "json", "--server", &serve.url,
        ])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("UCSYNC_TOKEN")
        .env_remove("UCSYNC_SERVER_CA_FILE")
        .env_remove("UCSYNC_SERVER_FINGERPRINT")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["items"], serde_json::json!([]), "{listed}");
}

fn refused(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} in {stderr}");
}

fn path(p: PathBuf) -> String {
    p.to_str().unwrap().to_string()
}

#[tokio::test]
async fn the_cli_checks_the_certificate_of_an_https_service() {
    let pki = tempfile::tempdir().unwrap();
    let file = |n: &str| pki.path().join(n);
    let ours = ca(pki.path(), "ca");
    let _other = ca(pki.path(), "other-ca");
    let fingerprint = certificate(Some(&ours), &file("api.pem"), &file("api.key"));
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(data.path(), &tls_env(&file("api.pem"), &file("api.key")));
    assert!(serve.url.starts_with("https://127.0.0.1:"), "{}", serve.url);

    ok(&cli(
        &serve,
        data.path(),
        &["--server-ca-file", &path(file("ca.pem"))],
        &[],
    ));
    ok(&cli(
        &serve,
        data.path(),
        &[],
        &[("UCSYNC_SERVER_CA_FILE", &path(file("ca.pem")))],
    ));
    ok(&cli(
        &serve,
        data.path(),
        &["--server-fingerprint", &fingerprint],
        &[],
    ));

    let wrong_ca = ["--server-ca-file".to_string(), path(file("other-ca.pem"))];
    let wrong_ca: Vec<&str> = wrong_ca.iter().map(String::as_str).collect();
    refused(&cli(&serve, data.path(), &wrong_ca, &[]), "does not trust");
    let other_pin = fingerprint_of(b"another certificate");
    refused(
        &cli(
            &serve,
            data.path(),
            &["--server-fingerprint", &other_pin],
            &[],
        ),
        "is not the pinned",
    );
    // Nothing given and no certificate of its own in the data directory:
    // the system's trust store, which does not know the test's CA.
    refused(&cli(&serve, data.path(), &[], &[]), "--server-ca-file");

    // HTTP/2 by ALPN, and HSTS on every answer, the public ones too.
    let mut config = client_config(&Trust::CaFile(file("ca.pem")), Arc::default()).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap();
    for p in ["/healthz", "/metrics", "/", "/api/v1/elements"] {
        let resp = http.get(format!("{}{p}", serve.url)).send().await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2, "{p}");
        let hsts = resp.headers().get("strict-transport-security");
        assert_eq!(hsts.unwrap(), "max-age=31536000", "{p}");
    }
}

/// On the service's machine the CLI trusts the data directory's own
/// certificate — the self-signed one `serve` makes off loopback — unasked.
#[test]
fn the_cli_trusts_the_data_directorys_own_certificate() {
    let data = tempfile::tempdir().unwrap();
    let (cert, key) = (
        data.path().join("http-tls.crt"),
        data.path().join("http-tls.key"),
    );
    certificate(None, &cert, &key);
    let serve = Serve::start_with(data.path(), &tls_env(&cert, &key));
    ok(&cli(&serve, data.path(), &[], &[]));
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(
        data.path().join("admin.token"),
        elsewhere.path().join("admin.token"),
    )
    .unwrap();
    refused(&cli(&serve, elsewhere.path(), &[], &[]), "does not trust");
}

#[test]
fn insecure_http_with_a_certificate_is_refused_and_on_loopback_serves_http() {
    let pki = tempfile::tempdir().unwrap();
    let (cert, key) = (pki.path().join("api.pem"), pki.path().join("api.key"));
    certificate(None, &cert, &key);
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--syslog-listen",
            "127.0.0.1:0",
        ])
        .args(["--insecure-http", "--http-tls-cert"])
        .arg(&cert)
        .arg("--http-tls-key")
        .arg(&key)
        .arg("--data-dir")
        .arg(data.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    refused(&out, "contradict");

    let serve = Serve::start_with(data.path(), &[("UCSYNC_INSECURE_HTTP", "true")]);
    assert!(serve.url.starts_with("http://127.0.0.1:"), "{}", serve.url);
    ok(&cli(&serve, data.path(), &[], &[]));
}

/// A connection over TLS to `addr`, checked against `ca`; the fingerprint
/// of the certificate the service presented.
async fn connect(addr: &str, ca: &Path) -> (TlsStream<TcpStream>, String) {
    let seen = Arc::new(Mutex::new(None));
    let config = client_config(&Trust::CaFile(ca.to_path_buf()), seen.clone()).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let fingerprint = seen.lock().unwrap().clone().unwrap();
    (tls, fingerprint)
}

/// `GET /healthz` on an open HTTP/1.1 connection, kept alive; the status.
async fn health(tls: &mut TlsStream<TcpStream>) -> u16 {
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tls.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection was closed");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if buf.len() >= end + 4 + length {
            return text[9..12].parse().unwrap();
        }
    }
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_or_dropped_connections() {
    let pki = tempfile::tempdir().unwrap();
    let file = |n: &str| pki.path().join(n);
    let issuer = ca(pki.path(), "ca");
    let first = certificate(Some(&issuer), &file("api.pem"), &file("api.key"));
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(data.path(), &tls_env(&file("api.pem"), &file("api.key")));
    let addr = serve.url.trim_start_matches("https://").to_string();

    let (mut open, seen) = connect(&addr, &file("ca.pem")).await;
    assert_eq!(seen, first);
    assert_eq!(health(&mut open).await, 200);

    let renewed = certificate(Some(&issuer), &file("api.pem"), &file("api.key"));
    serve.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, seen) = connect(&addr, &file("ca.pem")).await;
        if seen == renewed {
            break;
        }
        assert_eq!(seen, first, "neither the old nor the renewed certificate");
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection opened before the renewal still answers.
    assert_eq!(health(&mut open).await, 200);
}
