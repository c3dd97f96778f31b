//! The sync engine against the CM emulator over SSH and the IP Office
//! emulator over HTTP, on SQLite.

mod ipo;
mod messaging;
mod runner;
mod scheduler;
mod slapd;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use ucsync_connect::Connector;
use ucsync_connect::cm::CmConnector;
use ucsync_connect::cm::catalog::Catalog;
use ucsync_connect::ipo::IpoConnector;
use ucsync_core::{ElementKind, ElementName, JobState, Password, SecretKey, SyncType, Trigger};
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_engine::{ConnectorFactory, Event, Runner, RunnerSettings, SyncEngine, SyncSettings};
use ucsync_sat::SatConfig;
use ucsync_schedule::{Clock, SystemClock};
use ucsync_store::{Element, ElementSettings, Job, JobId, NewElement, SqliteStore, Store};

pub const OWN: (&str, &str) = ("ucsync", "ucsync01");
pub const OUTSIDE: (&str, &str) = ("craft", "craft01");

pub fn cm_settings() -> CmSettings {
    CmSettings {
        logins: vec![
            (OWN.0.into(), OWN.1.into()),
            (OUTSIDE.0.into(), OUTSIDE.1.into()),
        ],
        ..CmSettings::default()
    }
}

pub async fn emulator(settings: CmSettings) -> CmEmulator {
    CmEmulator::start(settings, TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap()
}

/// A store, an engine and a runner, on a fresh database.
pub struct Rig {
    pub _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub runner: Runner,
    pub secret: SecretKey,
}

pub fn factory() -> ConnectorFactory {
    factory_with(None)
}

/// The factory; `timeout`, when given, for each request to an IP Office or
/// a directory instead of one long enough for any answer on a loaded
/// machine (a test of a stall waits for it).
pub fn factory_with(timeout: Option<Duration>) -> ConnectorFactory {
    let timeout = timeout.unwrap_or(Duration::from_secs(30));
    let catalog = Arc::new(Catalog::builtin());
    let mailboxes = Arc::new(ucsync_connect::messaging::catalog::Catalog::builtin());
    Arc::new(move |e: Element, password: String| {
        let catalog = catalog.clone();
        let mailboxes = mailboxes.clone();
        Box::pin(async move {
            if let Some(product) = mailboxes.by_kind(e.kind) {
                let c: Arc<dyn Connector> =
                    Arc::new(messaging::connect(&e, password, product.clone(), timeout).await?);
                return Ok(c);
            }
            if e.kind == ElementKind::IpOffice {
                let c: Arc<dyn Connector> =
                    Arc::new(IpoConnector::connect(ipo::config(&e, password, timeout)?).await?);
                return Ok(c);
            }
            let mut cfg = SatConfig::new(
                e.host.clone(),
                e.port,
                e.login.clone(),
                Password::new(password),
            );
            cfg.backoff = Duration::from_millis(20);
            cfg.host_key = e.settings.host_key.clone();
            let c: Arc<dyn Connector> = Arc::new(CmConnector::connect(cfg, catalog).await?);
            Ok(c)
        })
    })
}

impl Rig {
    pub async fn new(pool: usize) -> Rig {
        Rig::with_settings(RunnerSettings {
            init_pool: pool,
            ..Default::default()
        })
        .await
    }

    pub async fn with_settings(settings: RunnerSettings) -> Rig {
        Rig::with_factory(settings, factory()).await
    }

    pub async fn with_factory(settings: RunnerSettings, factory: ConnectorFactory) -> Rig {
        Rig::build(settings, factory, Arc::new(SystemClock)).await
    }

    /// A rig whose engine takes "now" from `clock`.
    pub async fn with_clock(clock: Arc<dyn Clock>) -> Rig {
        Rig::build(RunnerSettings::default(), factory(), clock).await
    }

    async fn build(
        settings: RunnerSettings,
        factory: ConnectorFactory,
        clock: Arc<dyn Clock>,
    ) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let secret = SecretKey::generate();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("ucsync.db"), secret.clone())
                .await
                .unwrap(),
        );
        let engine = SyncEngine::new(store.clone(), secret.clone(), SyncSettings::default())
            .with_clock(clock);
        let runner = Runner::new(engine, factory, settings);
        Rig {
            _dir: dir,
            store,
            runner,
            secret,
        }
    }

    /// A runner on the store; several on one store are several nodes.
    pub fn runner(store: &Arc<dyn Store>, secret: &SecretKey, settings: RunnerSettings) -> Runner {
        Rig::runner_with(store, secret, settings, factory())
    }

    pub fn runner_with(
        store: &Arc<dyn Store>,
        secret: &SecretKey,
        settings: RunnerSettings,
        factory: ConnectorFactory,
    ) -> Runner {
        let engine = SyncEngine::new(store.clone(), secret.clone(), SyncSettings::default());
        Runner::new(engine, factory, settings)
    }

    /// Adds a CM element without syncing it.
    pub async fn add_element_only(&self, name: &str, port: u16) -> ElementName {
        let name = ElementName::parse(name).unwrap();
        self.store
            .add_element(NewElement {
                name: name.clone(),
                kind: ElementKind::Cm,
                host: "127.0.0.1".into(),
                alternate_host: None,
                port,
                login: OWN.0.into(),
                password: OWN.1.into(),
                settings: ElementSettings::default(),
            })
            .await
            .unwrap();
        name
    }

    /// Adds a CM and returns its automatic init, finished.
    pub async fn add_cm(&self, name: &str, emu: &CmEmulator) -> Job {
        let name = self.add_element_only(name, emu.addr().port()).await;
        let job = self
            .runner
            .request(&name, SyncType::Init, Trigger::ElementAdded, "test")
            .await
            .unwrap();
        self.runner.wait(job.job.id).await.unwrap()
    }

    pub async fn sync(&self, name: &str, t: SyncType) -> Job {
        let job = self
            .runner
            .request(
                &ElementName::parse(name).unwrap(),
                t,
                Trigger::OnDemand,
                "test",
            )
            .await
            .unwrap();
        self.runner.wait(job.job.id).await.unwrap()
    }
}

/// Waits until the job has left the queue (claimed by this runner's node),
/// told by the event stream.
pub async fn claimed(runner: &Runner, id: JobId) -> Job {
    let mut events = runner.subscribe();
    let job = runner.store().job(id).await.unwrap().unwrap();
    if job.state != JobState::Queued {
        return job;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => panic!("job {id} was not claimed"),
            Ok(Ok(Event::Job { job })) if job.id == id && job.state != JobState::Queued => {
                return *job;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("the event stream failed: {e}"),
        }
    }
}

/// Waits until `done` says yes, looking every 10 ms for at most a minute:
/// for what nothing tells (a job's progress is written, not streamed).
pub async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
