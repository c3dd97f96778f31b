//! The Communication Manager emulator: SAT/OSSI over SSH.

mod core;
mod data;
mod model;
pub mod notify;
mod ssh;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::core::{Behaviour, Cm, HistoryEntry, SessionCtx};
pub use self::data::Translations;
pub use self::model::{Field, FieldKind, Form, KeyKind, Model};
pub use self::ssh::{Faults, fingerprint, host_keys};

/// Everything `ucsync emulate cm` can be told.
#[derive(Debug, Clone)]
pub struct CmSettings {
    /// The node name (also the syslog HOSTNAME of notify events).
    pub name: String,
    /// Logins and their passwords.
    pub logins: Vec<(String, String)>,
    pub host_key: Option<PathBuf>,
    pub max_sessions: usize,
    pub profile: String,
    /// Object counts that override the profile's, by object type.
    pub counts: BTreeMap<String, usize>,
    pub seed: u64,
    pub state_file: Option<PathBuf>,
    /// A forms file to use instead of the built-in one.
    pub forms_file: Option<PathBuf>,
    pub version: String,
    pub history_capacity: usize,
    pub clock_offset_secs: i64,
    pub latency: Duration,
    pub faults: Faults,
    /// Where to send a change event after each committed data command.
    pub notify: Option<notify::NotifyTarget>,
}

impl Default for CmSettings {
    fn default() -> Self {
        CmSettings {
            name: "cm1".into(),
            logins: vec![("dadmin".into(), "dadmin01".into())],
            host_key: None,
            max_sessions: 8,
            profile: "small".into(),
            counts: BTreeMap::new(),
            seed: 1,
            state_file: None,
            forms_file: None,
            version: "R020x.01.0.974.0".into(),
            history_capacity: 2500,
            clock_offset_secs: 0,
            latency: Duration::ZERO,
            faults: Faults::default(),
            notify: None,
        }
    }
}

/// A running CM emulator.
pub struct CmEmulator {
    cm: Arc<Cm>,
    shared: Arc<ssh::Shared>,
    addr: SocketAddr,
    fingerprints: Vec<String>,
    key_algorithms: Vec<String>,
    name: String,
    cancel: CancellationToken,
    task: JoinHandle<Result<()>>,
}

impl std::fmt::Debug for CmEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmEmulator")
            .field("addr", &self.addr)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CmEmulator {
    /// Builds the CM (its data from `--state` when that file exists, else
    /// generated) and starts serving SSH on `listener`.
    pub async fn start(settings: CmSettings, listener: TcpListener) -> Result<CmEmulator> {
        ensure!(
            settings.max_sessions > 0,
            "--max-sessions must be at least 1"
        );
        ensure!(
            !settings.logins.is_empty(),
            "at least one --login is needed"
        );
        let model = Arc::new(match &settings.forms_file {
            Some(p) => Model::from_file(p)?,
            None => Model::builtin()?,
        });
        let data = match &settings.state_file {
            Some(p) if p.exists() => Translations::load(&model, p)?,
            _ => {
                let mut counts = model.profile(&settings.profile)?;
                counts.extend(settings.counts.clone());
                let m = model.clone();
                let (seed, version) = (settings.seed, settings.version.clone());
                tokio::task::spawn_blocking(move || {
                    Translations::generate(&m, &counts, seed, &version)
                })
                .await??
            }
        };
        let behaviour = Behaviour {
            version: settings.version.clone(),
            history_capacity: settings.history_capacity,
            clock_offset: chrono::Duration::seconds(settings.clock_offset_secs),
            latency: settings.latency,
            state_file: settings.state_file.clone(),
        };
        let cm = Arc::new(Cm::new(model, data, behaviour));
        if let Some(target) = &settings.notify {
            cm.set_notify(notify::NotifySender::start(&settings.name, target.clone())?);
        }
        let keys = host_keys(settings.host_key.as_deref())?;
        let fingerprints = keys.iter().map(fingerprint).collect();
        let key_algorithms = keys
            .iter()
            .map(|k| k.algorithm().as_str().to_string())
            .collect();
        let logins: HashMap<String, String> = settings.logins.iter().cloned().collect();
        let banner = format!(
            "Communication Manager {} ({}), emulated by ucsync\r\n",
            settings.version, settings.name
        );
        let shared = Arc::new(ssh::Shared::new(
            cm.clone(),
            logins,
            settings.max_sessions,
            settings.faults,
            banner,
        ));
        let addr = listener.local_addr().context("listener address")?;
        let cancel = CancellationToken::new();
        let config = ssh::russh_config(keys);
        let task = tokio::spawn(ssh::serve(listener, shared.clone(), config, cancel.clone()));
        Ok(CmEmulator {
            cm,
            shared,
            addr,
            fingerprints,
            key_algorithms,
            name: settings.name,
            cancel,
            task,
        })
    }

    /// Changes the faults of sessions that start from now on.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults") = faults;
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The emulated CM, to look inside in tests.
    pub fn cm(&self) -> &Arc<Cm> {
        &self.cm
    }

    /// The SHA-256 fingerprints of the host keys (Ed25519 first, then ECDSA).
    pub fn fingerprints(&self) -> &[String] {
        &self.fingerprints
    }

    /// Each host key's algorithm (`ssh-ed25519`, `ecdsa-sha2-nistp256`)
    /// with its fingerprint, in the order of [`CmEmulator::fingerprints`].
    pub fn host_keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.key_algorithms
            .iter()
            .map(String::as_str)
            .zip(self.fingerprints.iter().map(String::as_str))
    }

    /// Stops accepting connections and ends the server.
    pub async fn shutdown(self) -> Result<()> {
        self.cancel.cancel();
        self.task.await.context("emulator task")?
    }

    /// Runs until the token fires or the server fails.
    pub async fn run_until(self, stop: CancellationToken) -> Result<()> {
        let cancel = self.cancel.clone();
        let mut task = self.task;
        tokio::select! {
            r = &mut task => r.context("emulator task")?,
            _ = stop.cancelled() => {
                cancel.cancel();
                task.await.context("emulator task")?
            }
        }
    }
}
