//! The IP Office emulator: ucsync's model of the configuration service
//! (`docs/ip-office-config-api.yaml`) over HTTP or HTTPS.
//!
//! It is written against that document only — it shares no JSON types with
//! ucsync's IP Office connector — so that a mistake in one shows up as a
//! failure against the other instead of hiding in both.

mod http;
pub mod model;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, Result, ensure};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};
use tokio_util::sync::CancellationToken;

pub use self::model::{Data, Identity, MAX_USERS, Sizes};

/// The rights groups of a service user that this service knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// configuration-read: every GET.
    pub read: bool,
    /// configuration-write: every POST, PUT, PATCH and DELETE.
    pub write: bool,
}

impl Rights {
    pub const READ_WRITE: Rights = Rights {
        read: true,
        write: true,
    };
    pub const READ: Rights = Rights {
        read: true,
        write: false,
    };
}

/// Faults of `GET /configuration` (the full read and its conditional form);
/// the rest of the service answers normally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Answer with this status (401, 403, 500, …) and an error body.
    pub status: Option<u16>,
    /// Never answer (until the emulator stops).
    pub stall: bool,
    /// Send this many bytes of the body, then cut the connection.
    pub cut_after_bytes: Option<usize>,
    /// Send a body that is not valid JSON.
    pub invalid_json: bool,
    /// Leave this field out of every object (and of the system).
    pub missing_field: Option<String>,
}

/// Everything `ucsync emulate ip-office` can be told.
#[derive(Debug, Clone)]
pub struct IpoSettings {
    /// The system name.
    pub name: String,
    /// Service users in both rights groups (configuration read and write).
    pub logins: Vec<(String, String)>,
    /// Service users in the configuration-read rights group only.
    pub read_logins: Vec<(String, String)>,
    pub sizes: Sizes,
    pub seed: u64,
    /// The configuration is saved here on every change and loaded at start.
    pub state_file: Option<PathBuf>,
    pub version: String,
    /// HTTPS with this certificate chain and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    pub faults: Faults,
}

impl Default for IpoSettings {
    fn default() -> Self {
        IpoSettings {
            name: "ipo1".into(),
            logins: vec![("Administrator".into(), "Administrator".into())],
            read_logins: Vec::new(),
            sizes: Sizes::default(),
            seed: 1,
            state_file: None,
            version: "11.1.3.0 build 14".into(),
            tls: None,
            faults: Faults::default(),
        }
    }
}

/// One request the emulator answered, for tests that count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The body's length when it was known up front (not for a cut stream).
    pub body_bytes: Option<u64>,
}

/// A running IP Office emulator.
pub struct IpoEmulator {
    shared: Arc<http::Shared>,
    addr: SocketAddr,
    tls: bool,
    fingerprint: Option<String>,
    task: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for IpoEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpoEmulator")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

fn serial_of(seed: u64) -> String {
    // A MAC-like identity that the seed decides.
    format!("00e007{:06x}", seed.wrapping_mul(0x9e37_79b9) & 0xff_ffff)
}

/// The acceptor, and the SHA-256 fingerprint of the certificate it presents.
fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<(TlsAcceptor, String)> {
    use pki_types::pem::PemObject;
    let certs: Vec<pki_types::CertificateDer<'static>> =
        pki_types::CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("cannot read the certificate {}", cert.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
    ensure!(!certs.is_empty(), "{} holds no certificate", cert.display());
    let digest = <sha2::Sha256 as sha2::Digest>::digest(certs[0].as_ref());
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
    let fingerprint = format!("SHA256:{}", hex.join(":"));
    let key = pki_types::PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not fit together")?;
    Ok((TlsAcceptor::from(Arc::new(config)), fingerprint))
}

impl IpoEmulator {
    /// Builds the configuration (from `state_file` when it exists, else
    /// generated from the seed) and serves it on `listener`.
    pub async fn start(settings: IpoSettings, listener: TcpListener) -> Result<IpoEmulator> {
        ensure!(
            !settings.logins.is_empty() || !settings.read_logins.is_empty(),
            "at least one --login is needed"
        );
        let (data, identity) = match &settings.state_file {
            Some(p) if p.exists() => Data::load(p)?,
            _ => {
                let (sizes, seed) = (settings.sizes, settings.seed);
                let data =
                    tokio::task::spawn_blocking(move || Data::generate(sizes, seed)).await??;
                let identity = Identity {
                    name: settings.name.clone(),
                    serial: serial_of(settings.seed),
                    software_version: settings.version.clone(),
                };
                (data, identity)
            }
        };
        let (acceptor, fingerprint) = match &settings.tls {
            Some((cert, key)) => {
                let (a, f) = tls_acceptor(cert, key)?;
                (Some(a), Some(f))
            }
            None => (None, None),
        };
        let mut logins: HashMap<String, (String, Rights)> = HashMap::new();
        for (n, p) in &settings.read_logins {
            logins.insert(n.clone(), (p.clone(), Rights::READ));
        }
        for (n, p) in &settings.logins {
            logins.insert(n.clone(), (p.clone(), Rights::READ_WRITE));
        }
        let cancel = CancellationToken::new();
        let shared = Arc::new(http::Shared {
            office: RwLock::new(http::Office::new(
                identity,
                data,
                settings.state_file.clone(),
            )),
            logins,
            faults: Mutex::new(settings.faults.clone()),
            served: Mutex::new(Vec::new()),
            cancel: cancel.clone(),
        });
        let addr = listener.local_addr().context("listener address")?;
        let app = http::router(shared.clone());
        let stop = cancel.clone();
        let task = match acceptor {
            Some(acceptor) => {
                let tls = http::TlsListener::new(listener, acceptor, cancel.clone());
                tokio::spawn(async move {
                    axum::serve(tls, app)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await
                })
            }
            None => tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
            }),
        };
        Ok(IpoEmulator {
            shared,
            addr,
            tls: settings.tls.is_some(),
            fingerprint,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the configuration service.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/config/v1", self.addr)
    }

    /// With TLS: the SHA-256 fingerprint of its certificate (`SHA256:` and hex pairs).
    pub fn certificate_fingerprint(&self) -> Option<String> {
        self.fingerprint.clone()
    }

    pub fn name(&self) -> String {
        self.identity().name
    }

    pub fn identity(&self) -> Identity {
        self.shared.office.read().expect("office").identity.clone()
    }

    /// The configuration as it stands, to look inside in tests.
    pub fn data(&self) -> Data {
        self.shared.office.read().expect("office").data.clone()
    }

    /// The current configuration version (the ETag, unquoted).
    pub fn config_version(&self) -> String {
        self.shared.office.read().expect("office").version.clone()
    }

    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.shared.office.read().expect("office").data.counts()
    }

    /// Upgrades the system: a new software version, hence a new configuration version.
    pub fn set_software_version(&self, version: &str) {
        self.shared
            .office
            .write()
            .expect("office")
            .set_software_version(version);
    }

    /// Changes the faults of requests from now on.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults") = faults;
    }

    /// The requests answered so far (the recent ones, up to 100,000), oldest first.
    pub fn served(&self) -> Vec<Served> {
        self.shared.served.lock().expect("served").clone()
    }

    /// Forgets the requests answered so far.
    pub fn clear_served(&self) {
        self.shared.served.lock().expect("served").clear();
    }

    /// Stops serving and waits for the server to end.
    pub async fn shutdown(self) -> Result<()> {
        self.shared.cancel.cancel();
        self.task.await.context("emulator task")??;
        Ok(())
    }

    /// Runs until the token fires or the server fails.
    pub async fn run_until(self, stop: CancellationToken) -> Result<()> {
        let cancel = self.shared.cancel.clone();
        let mut task = self.task;
        tokio::select! {
            r = &mut task => r.context("emulator task")??,
            _ = stop.cancelled() => {
                cancel.cancel();
                task.await.context("emulator task")??
            }
        }
        Ok(())
    }
}
