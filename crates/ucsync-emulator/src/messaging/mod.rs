//! The messaging emulator: an LDAP directory of one product's subscribers
//! (Aura Messaging, CM Messaging or Modular Messaging), over LDAP or LDAPS,
//! with simple bind, paged results (RFC 2696), add/modify/delete and
//! `modifyTimestamp` on its own clock.

mod directory;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, Result, ensure};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use self::directory::{Directory, Entry, Layout, Product, extension};
pub use self::server::Faults;

/// Everything `ucsync emulate messaging` can be told.
#[derive(Debug, Clone)]
pub struct MessagingSettings {
    pub product: Product,
    /// Bind DNs and their passwords.
    pub logins: Vec<(String, String)>,
    /// How many subscribers to generate (at most 100,000).
    pub subscribers: usize,
    pub seed: u64,
    /// The directory is saved here after every change and loaded at start.
    pub state_file: Option<PathBuf>,
    /// LDAPS: the certificate chain and key, PEM.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The emulator's clock minus the real one, in seconds.
    pub clock_offset_secs: i64,
    /// Entries a search without paging returns at most (slapd's default 500).
    pub size_limit: usize,
    /// What the root DSE reports as `vendorVersion`.
    pub version: String,
    pub faults: Faults,
}

/// The most subscribers the emulator generates.
pub const MAX_SUBSCRIBERS: usize = 100_000;

impl MessagingSettings {
    pub fn new(product: Product) -> MessagingSettings {
        MessagingSettings {
            product,
            logins: vec![("cn=admin".into(), "admin01".into())],
            subscribers: 100,
            seed: 1,
            state_file: None,
            tls: None,
            clock_offset_secs: 0,
            size_limit: 500,
            version: match product {
                Product::Aura => "Aura Messaging 7.1.0.0",
                Product::Cmm => "CM Messaging 7.0.0.1",
                Product::Mm => "Modular Messaging 5.2.0.0",
            }
            .into(),
            faults: Faults::default(),
        }
    }
}

/// A running messaging emulator.
pub struct MessagingEmulator {
    shared: Arc<server::Shared>,
    addr: SocketAddr,
    cancel: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for MessagingEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagingEmulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn acceptor(cert: &PathBuf, key: &PathBuf) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?;
    ensure!(!certs.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not make a TLS identity")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl MessagingEmulator {
    /// Builds the directory (from `state_file` when it exists, else
    /// generated) and serves LDAP — or LDAPS with `tls` — on `listener`.
    pub async fn start(
        settings: MessagingSettings,
        listener: TcpListener,
    ) -> Result<MessagingEmulator> {
        ensure!(
            !settings.logins.is_empty(),
            "at least one --login is needed"
        );
        ensure!(
            settings.subscribers <= MAX_SUBSCRIBERS,
            "at most {MAX_SUBSCRIBERS} subscribers, not {}",
            settings.subscribers
        );
        let dir = match &settings.state_file {
            Some(p) if p.exists() => {
                directory::check_state(p, settings.product)?;
                Directory::load(p, settings.clock_offset_secs)?
            }
            _ => {
                let (p, n, seed, off) = (
                    settings.product,
                    settings.subscribers,
                    settings.seed,
                    settings.clock_offset_secs,
                );
                tokio::task::spawn_blocking(move || Directory::generate(p, n, seed, off)).await?
            }
        };
        let tls = match &settings.tls {
            Some((cert, key)) => Some(acceptor(cert, key)?),
            None => None,
        };
        let shared = Arc::new(server::Shared {
            dir: RwLock::new(dir),
            logins: settings.logins.clone(),
            faults: Mutex::new(settings.faults),
            size_limit: settings.size_limit.max(1),
            version: settings.version.clone(),
            state_file: settings.state_file.clone(),
        });
        let addr = listener.local_addr().context("listener address")?;
        let cancel = CancellationToken::new();
        let (s, c) = (shared.clone(), cancel.clone());
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = c.cancelled() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (s, c) = (s.clone(), c.child_token());
                match tls.clone() {
                    Some(acc) => {
                        tokio::spawn(async move {
                            match acc.accept(stream).await {
                                Ok(t) => server::serve(s, t, c).await,
                                Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                            }
                        });
                    }
                    None => {
                        tokio::spawn(server::serve(s, stream, c));
                    }
                }
            }
        });
        Ok(MessagingEmulator {
            shared,
            addr,
            cancel,
            task: Mutex::new(Some(task)),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn product(&self) -> Product {
        self.shared.dir.read().expect("directory").product
    }

    pub fn layout(&self) -> Layout {
        self.product().layout()
    }

    pub fn subscriber_count(&self) -> usize {
        self.shared.dir.read().expect("directory").subscribers.len()
    }

    /// A look at the directory, for tests.
    pub fn with_directory<T>(&self, f: impl FnOnce(&Directory) -> T) -> T {
        f(&self.shared.dir.read().expect("directory"))
    }

    /// Sets the emulator's clock, relative to the real one.
    pub fn set_clock_offset(&self, secs: i64) {
        self.shared
            .dir
            .read()
            .expect("directory")
            .set_clock_offset(secs);
    }

    /// Faults for the connections that start from now on.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults") = faults;
    }

    /// Serves until `stop` is cancelled.
    pub async fn run_until(self, stop: CancellationToken) -> Result<()> {
        stop.cancelled().await;
        self.shutdown().await;
        Ok(())
    }

    /// Stops listening and ends every connection.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let task = self.task.lock().expect("task").take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

impl Drop for MessagingEmulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
