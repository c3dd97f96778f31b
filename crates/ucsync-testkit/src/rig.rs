//! A store, an engine and a runner on a fresh SQLite database: what the
//! engine's tests and the benchmarks sync through.

use std::sync::Arc;

use ucsync_core::{ElementKind, ElementName, JobState, SecretKey, SyncType, Trigger};
use ucsync_emulator::cm::CmEmulator;
use ucsync_emulator::ipo::IpoEmulator;
use ucsync_engine::{ConnectorFactory, Runner, RunnerSettings, SyncEngine, SyncSettings};
use ucsync_schedule::{Clock, SystemClock};
use ucsync_store::{ElementSettings, Job, NewElement, NewJob, SqliteStore, Store};

use crate::emulators::OWN;

/// A store, an engine and a runner, on a fresh database in `dir`.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub runner: Runner,
    pub secret: SecretKey,
}

/// What an element added by a test is: `kind`, at `127.0.0.1:port`.
#[derive(Debug, Clone)]
pub struct Added<'a> {
    pub name: &'a str,
    pub kind: ElementKind,
    pub port: u16,
    pub login: String,
    pub password: String,
    pub settings: ElementSettings,
}

impl Rig {
    /// With `pool` places for inits.
    pub async fn new(pool: usize) -> Rig {
        Rig::with_settings(RunnerSettings {
            init_pool: pool,
            ..Default::default()
        })
        .await
    }

    pub async fn with_settings(settings: RunnerSettings) -> Rig {
        Rig::with_factory(settings, crate::factory()).await
    }

    pub async fn with_factory(settings: RunnerSettings, factory: ConnectorFactory) -> Rig {
        Rig::build(settings, factory, Arc::new(SystemClock)).await
    }

    /// A rig whose engine takes "now" from `clock`.
    pub async fn with_clock(clock: Arc<dyn Clock>) -> Rig {
        Rig::build(RunnerSettings::default(), crate::factory(), clock).await
    }

    async fn build(
        settings: RunnerSettings,
        factory: ConnectorFactory,
        clock: Arc<dyn Clock>,
    ) -> Rig {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let secret = SecretKey::generate();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("ucsync.db"), secret.clone())
                .await
                .expect("a fresh database"),
        );
        let engine = SyncEngine::new(store.clone(), secret.clone(), SyncSettings::default())
            .with_clock(clock);
        let runner = Runner::new(engine, factory, settings);
        Rig {
            dir,
            store,
            runner,
            secret,
        }
    }

    /// A runner on the store; several on one store are several nodes.
    pub fn runner(store: &Arc<dyn Store>, secret: &SecretKey, settings: RunnerSettings) -> Runner {
        Rig::runner_with(store, secret, settings, crate::factory())
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

    /// Adds an element without syncing it.
    pub async fn add(&self, e: Added<'_>) -> ElementName {
        add(self.store.as_ref(), e).await
    }

    /// Adds an element and queues its automatic init.
    pub async fn queue(&self, e: Added<'_>) -> Job {
        queue(&self.runner, e).await
    }

    /// Adds an element and returns its automatic init, finished.
    pub async fn add_and_init(&self, e: Added<'_>) -> Job {
        add_and_init(&self.runner, e).await
    }

    /// Adds a CM on `port` with ucsync's own login, without syncing it.
    pub async fn add_element_only(&self, name: &str, port: u16) -> ElementName {
        self.add(Added::cm(name, port)).await
    }

    /// Adds a CM and returns its automatic init, finished.
    pub async fn add_cm(&self, name: &str, emu: &CmEmulator) -> Job {
        self.add_and_init(Added::cm(name, emu.addr().port())).await
    }

    /// Adds an IP Office as the API does and returns its automatic init,
    /// finished.
    pub async fn add_ipo(&self, name: &str, emu: &IpoEmulator, password: &str) -> Job {
        self.add_and_init(Added::ipo(name, emu.addr().port(), password))
            .await
    }

    /// One sync on demand, finished.
    pub async fn sync(&self, name: &str, t: SyncType) -> Job {
        let job = self
            .runner
            .request(
                &ElementName::parse(name).expect("an element name"),
                t,
                Trigger::OnDemand,
                "test",
            )
            .await
            .expect("the sync queued");
        self.runner.wait(job.job.id).await.expect("the sync ended")
    }
}

/// Adds an element to `store` without syncing it.
pub async fn add(store: &dyn Store, e: Added<'_>) -> ElementName {
    let name = ElementName::parse(e.name).expect("an element name");
    store
        .add_element(NewElement {
            name: name.clone(),
            kind: e.kind,
            host: "127.0.0.1".into(),
            alternate_host: None,
            port: e.port,
            login: e.login,
            password: e.password,
            settings: e.settings,
        })
        .await
        .expect("the element added");
    name
}

/// A job of `element` that ran, logged one line and ended in `state` (a
/// finished state), made in the store directly: what retention's tests
/// remove or keep. No runner may be taking jobs from the store meanwhile.
pub async fn finished_job(store: &dyn Store, element: &str, state: JobState) -> Job {
    let name = ElementName::parse(element).expect("an element name");
    let new = NewJob {
        element: name,
        requested: SyncType::Incremental,
        trigger: Trigger::Schedule,
        requested_by: "test".into(),
        dry_run: false,
    };
    let j = store
        .create_job(&new, SyncType::Incremental, None)
        .await
        .expect("the job made");
    store
        .set_job_state(j.id, JobState::Running, None)
        .await
        .expect("the job running");
    store
        .job_log(j.id, "read 3 types")
        .await
        .expect("the line logged");
    store
        .set_job_state(j.id, state, Some("as the test says"))
        .await
        .expect("the job ended");
    store
        .job(j.id)
        .await
        .expect("the job read")
        .expect("the job exists")
}

/// Adds an element to the runner's store and queues its automatic init.
pub async fn queue(runner: &Runner, e: Added<'_>) -> Job {
    let name = add(runner.store().as_ref(), e).await;
    runner
        .request(&name, SyncType::Init, Trigger::ElementAdded, "test")
        .await
        .expect("the init queued")
        .job
}

/// Adds an element and returns its automatic init, finished.
pub async fn add_and_init(runner: &Runner, e: Added<'_>) -> Job {
    let job = queue(runner, e).await;
    runner.wait(job.id).await.expect("the init ended")
}

impl Added<'_> {
    /// A CM with ucsync's own login.
    pub fn cm(name: &str, port: u16) -> Added<'_> {
        Added {
            name,
            kind: ElementKind::Cm,
            port,
            login: OWN.0.into(),
            password: OWN.1.into(),
            settings: ElementSettings::default(),
        }
    }

    /// An IP Office with ucsync's own login and `password`.
    pub fn ipo<'a>(name: &'a str, port: u16, password: &str) -> Added<'a> {
        Added {
            name,
            kind: ElementKind::IpOffice,
            port,
            login: OWN.0.into(),
            password: password.into(),
            settings: ElementSettings::default(),
        }
    }
}
