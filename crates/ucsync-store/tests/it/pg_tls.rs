//! TLS to PostgreSQL: a PostgreSQL server of the test's own, on a free
//! loopback port, that takes TLS connections only (`hostssl`, and
//! `hostnossl … reject`), with a certificate for `localhost` signed by a CA
//! the test makes. Each `sslmode` connects or is refused as libpq's would.
//!
//! The server is Debian's PostgreSQL (`initdb`, `pg_ctl`); where it is not
//! installed the test says so and passes, except in CI (`CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;

use ucsync_core::SecretKey;
use ucsync_store::{PgStore, Store};
use ucsync_testkit::pki::Ca;

/// A PostgreSQL server started for one test, stopped when dropped.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    ca: PathBuf,
    /// A CA that signed nothing the server shows.
    other_ca: PathBuf,
    _dir: tempfile::TempDir,
}

/// The newest installed PostgreSQL's programs.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Runs a PostgreSQL program, as the `postgres` user when the test runs as
/// root (the server refuses to run as root).
fn run(program: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd.args(args).output().expect("a PostgreSQL program runs");
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, another CA, and a server certificate for `localhost` the first
/// signed: `(ca, other ca, certificate, key)`.
fn pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let (ca, other) = (Ca::new(), Ca::new());
    let [ca_file, other_ca, cert, key] =
        ["ca.pem", "other-ca.pem", "server.crt", "server.key"].map(|n| dir.join(n));
    ca.write(&ca_file);
    other.write(&other_ca);
    ca.sign(&["localhost"]).write(&cert, &key);
    (ca_file, other_ca, cert, key)
}

impl Server {
    fn start() -> Option<Server> {
        let bin = ucsync_testkit::require(
            "PostgreSQL's initdb and pg_ctl",
            postgres_bin().ok_or("not installed under /usr/lib/postgresql"),
        )?;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (ca, other_ca, cert, key) = pki(dir.path());
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        run(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let port = ucsync_testkit::pki::free_port();
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{dir}'\n\
             ssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\nfsync = off\n",
            dir = dir.path().display(),
            cert = cert.display(),
            key = key.display(),
        );
        let mut pg_conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        pg_conf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pg_conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        // The key must be the server's own and private.
        std::fs::set_permissions(
            &key,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
        )
        .unwrap();
        let log = dir.path().join("server.log");
        run(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        Some(Server {
            bin,
            data,
            port,
            ca,
            other_ca,
            _dir: dir,
        })
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        run(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "stop"],
        );
    }
}

async fn open(url: &str) -> Result<PgStore, String> {
    PgStore::connect(url, SecretKey::from_bytes([7; 32]))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn each_sslmode_connects_or_is_refused_as_libpq_would() {
    let Some(server) = Server::start() else {
        return;
    };
    let ca = format!("sslrootcert={}", server.ca.display());
    let other = format!("sslrootcert={}", server.other_ca.display());

    // The server takes TLS only: plain TCP is refused by its pg_hba.conf.
    let plain = open(&server.url("127.0.0.1", "sslmode=disable")).await;
    assert!(plain.is_err(), "a plain connection was taken");

    // Verified in full: the CA signed it and it names localhost.
    let full = open(&server.url("localhost", &format!("sslmode=verify-full&{ca}")))
        .await
        .expect("verify-full with the right CA and name");
    assert!(full.elements().await.unwrap().is_empty(), "a new database");

    // Connected to by address, the name does not match: verify-full
    // refuses, verify-ca (chain only) and require (encryption only) take it.
    let by_address = open(&server.url("127.0.0.1", &format!("sslmode=verify-full&{ca}"))).await;
    assert!(
        by_address.is_err(),
        "verify-full took a certificate for another name"
    );
    open(&server.url("127.0.0.1", &format!("sslmode=verify-ca&{ca}")))
        .await
        .expect("verify-ca checks the chain only");
    open(&server.url("127.0.0.1", "sslmode=require"))
        .await
        .expect("require encrypts without checking");

    // Another CA: refused, whatever the name.
    for mode in ["verify-ca", "verify-full"] {
        let url = server.url("localhost", &format!("sslmode={mode}&{other}"));
        assert!(
            open(&url).await.is_err(),
            "{mode} took a certificate of another CA"
        );
    }
}
