//! Jobs, with the database as their queue: a request joins a queued or
//! running job of the same or greater strength or queues a new one (the
//! store decides, atomically); this node claims queued jobs whose element has
//! nothing running, holds a lease on each while it runs, and gives every init
//! a place in one bounded pool shared by every node (an init waits for it in
//! the state `waiting`). Queued jobs survive a restart; a job whose
//! node died is failed as "interrupted" — at this node's next start, or by
//! any node once its lease has run out.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::{Mutex, Notify, broadcast};
use tokio_util::sync::CancellationToken;
use ucsync_connect::{ConnectError, Connector, WriteOp};
use ucsync_core::{ElementKind, ElementName, JobState, Object, SyncType, Trigger};
use ucsync_store::{Element, ElementUpdate, Job, JobId, NewJob, Requested, Store, StoreError};

use crate::sync::SyncEngine;

/// Opens a connector to an element, given its password.
pub type ConnectorFactory = Arc<
    dyn Fn(
            Element,
            String,
        )
            -> Pin<Box<dyn Future<Output = Result<Arc<dyn Connector>, ConnectError>> + Send>>
        + Send
        + Sync,
>;

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Inits running at once over all elements and every node sharing the
    /// database (each node should be given the same number).
    pub init_pool: usize,
    /// Jobs running or waiting at once on this node (inits wait for the pool
    /// within it).
    pub max_jobs: usize,
    /// Keep each element's connection (for a CM, its SAT sessions) open
    /// between jobs, for notify sync and quick incrementals.
    pub keep_connections: bool,
    /// This node's name in the job queue: stable across restarts, so that a
    /// restarted node fails the jobs it was running at once.
    pub node: String,
    /// How long a running job's lease lasts without renewal: after it, any
    /// node fails the job as interrupted.
    pub lease: Duration,
    /// How often the queue is looked at for work queued by other nodes.
    pub poll: Duration,
    /// The zone of the default schedules' time of day.
    pub time_zone: chrono_tz::Tz,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            init_pool: 8,
            max_jobs: 64,
            keep_connections: false,
            node: "local".into(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            time_zone: chrono_tz::UTC,
        }
    }
}

/// What changed, for the API's event stream.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// A job was queued, started, or ended (boxed: a job is far larger
    /// than the other events).
    Job { job: Box<Job> },
    /// An element was added, changed or removed.
    Element { name: String, change: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("a sync job is running on '{0}': try again when it has finished")]
    Busy(String),
    #[error("no element '{0}'")]
    NoElement(String),
    /// A write whose answer was lost: it may have been made. `settled` says
    /// what ucsync did so that the database does not take it as not made.
    #[error("{error}: the element's answer was lost, so the change may have been made; {settled}")]
    AnswerLost {
        error: ConnectError,
        settled: String,
    },
}

/// What a connection check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub version: String,
    /// The element's host-key (or certificate) fingerprint.
    pub fingerprint: Option<String>,
    /// The address that answered.
    pub host: String,
}

struct Inner {
    engine: SyncEngine,
    factory: ConnectorFactory,
    settings: RunnerSettings,
    /// Jobs running on this node, by id, with what stops them.
    running: SyncMutex<HashMap<JobId, (String, CancellationToken)>>,
    /// Wakes the dispatcher: a job was queued here, or one ended.
    wake: Notify,
    finished: Notify,
    events: broadcast::Sender<Event>,
    kept: Mutex<HashMap<String, Arc<dyn Connector>>>,
    notify: Arc<crate::notify::NotifyStats>,
    shutdown: CancellationToken,
    tasks: SyncMutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Held from storing a job's new state to publishing it, where two
    /// tasks may change the same job (queued by a request, claimed by the
    /// dispatcher), so the stream never tells them out of order.
    order: Mutex<()>,
}

/// Runs sync jobs.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("node", &self.inner.settings.node)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// Starts the runner on the current tokio runtime: first the jobs this
    /// node was running when it last stopped are failed as interrupted, then
    /// queued jobs run.
    pub fn new(engine: SyncEngine, factory: ConnectorFactory, settings: RunnerSettings) -> Runner {
        let (events, _) = broadcast::channel(1024);
        let runner = Runner {
            inner: Arc::new(Inner {
                engine: engine.with_init_pool(settings.init_pool, settings.poll),
                factory,
                running: SyncMutex::new(HashMap::new()),
                wake: Notify::new(),
                finished: Notify::new(),
                events,
                kept: Mutex::new(HashMap::new()),
                notify: Arc::default(),
                shutdown: CancellationToken::new(),
                tasks: SyncMutex::new(Vec::new()),
                order: Mutex::new(()),
                settings,
            }),
        };
        let (a, b, c) = (runner.clone(), runner.clone(), runner.clone());
        *runner.inner.tasks.lock().expect("tasks") = vec![
            tokio::spawn(async move { a.dispatch().await }),
            tokio::spawn(async move { b.keep_leases().await }),
            tokio::spawn(async move { c.watch_stops().await }),
        ];
        runner
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.engine.store()
    }

    pub fn engine(&self) -> &SyncEngine {
        &self.inner.engine
    }

    /// The most inits that ran at once.
    pub fn peak_inits(&self) -> usize {
        self.inner.engine.peak_inits()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    pub fn publish(&self, ev: Event) {
        // Nobody listening is fine.
        let _ = self.inner.events.send(ev);
    }

    /// Asks for a sync: returns the job that will do it — an existing one of
    /// the same or greater strength, or a new one queued after what runs now.
    pub async fn request(
        &self,
        element: &ElementName,
        requested: SyncType,
        trigger: Trigger,
        requested_by: &str,
    ) -> Result<Requested, StoreError> {
        let _order = self.inner.order.lock().await;
        let r = self
            .store()
            .request_job(&NewJob {
                element: element.clone(),
                requested,
                trigger,
                requested_by: requested_by.to_string(),
            })
            .await?;
        if !r.joined {
            self.publish(Event::Job {
                job: Box::new(r.job.clone()),
            });
            self.inner.wake.notify_one();
        }
        Ok(r)
    }

    /// Stops a running job at its next safe point, or a queued one at once.
    pub async fn stop(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let job = self.store().stop_job(id).await?;
        let local = self
            .inner
            .running
            .lock()
            .expect("running")
            .get(&id)
            .map(|(_, c)| c.clone());
        if let Some(cancel) = local {
            cancel.cancel();
        }
        if let Some(job) = &job {
            self.publish(Event::Job {
                job: Box::new(job.clone()),
            });
        }
        Ok(job)
    }

    /// Waits until the job has finished and returns it.
    pub async fn wait(&self, id: JobId) -> Result<Job, StoreError> {
        loop {
            let notified = self.inner.finished.notified();
            let job = self.store().job(id).await?.ok_or(StoreError::NoJob(id))?;
            if job.state.is_finished() {
                return Ok(job);
            }
            // Jobs of other nodes end without telling this one: look again.
            let _ = tokio::time::timeout(self.inner.settings.poll, notified).await;
        }
    }

    /// The counters of notify sync on this node.
    pub fn notify_stats(&self) -> &Arc<crate::notify::NotifyStats> {
        &self.inner.notify
    }

    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// The element's kept connection, or a new one (kept from now on when
    /// connections are kept between jobs); the flag says whether it is kept.
    pub(crate) async fn connection(
        &self,
        element: &Element,
    ) -> Result<(Arc<dyn Connector>, bool), RunnerError> {
        if let Some(c) = self.inner.kept.lock().await.get(element.name.as_str()) {
            return Ok((c.clone(), true));
        }
        let password = self.store().element_password(element.name.as_str()).await?;
        let (conn, _) = self.connect(element, password).await?;
        if !self.inner.settings.keep_connections {
            return Ok((conn, false));
        }
        let mut kept = self.inner.kept.lock().await;
        // Another task may have connected meanwhile: keep one.
        if let Some(c) = kept.get(element.name.as_str()) {
            let c = c.clone();
            drop(kept);
            conn.close().await;
            return Ok((c, true));
        }
        kept.insert(element.name.to_string(), conn.clone());
        Ok((conn, true))
    }

    /// Whether a job runs on the element (on any node).
    pub(crate) async fn busy(&self, element: &str) -> Result<bool, StoreError> {
        for state in [JobState::Waiting, JobState::Running, JobState::Stopping] {
            if !self
                .store()
                .jobs(Some(element), Some(state), 0, 1)
                .await?
                .is_empty()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Connects to the element (its alternate host when the host does not
    /// answer), logs in, and reports what it found.
    pub async fn check(&self, element: &Element) -> Result<CheckReport, RunnerError> {
        let password = self.store().element_password(element.name.as_str()).await?;
        let (conn, host) = self.connect(element, password).await?;
        let version = conn.version().await;
        let fingerprint = conn.fingerprint();
        conn.close().await;
        Ok(CheckReport {
            version: version?,
            fingerprint,
            host,
        })
    }

    /// Administers an object through ucsync: the change is made on the
    /// element under its login and stored in the same step. Refused while a
    /// job runs on the element, whose final transaction could otherwise
    /// write over it.
    pub async fn administer(
        &self,
        element: &ElementName,
        op: WriteOp,
    ) -> Result<Option<Object>, RunnerError> {
        let e = self
            .store()
            .element(element.as_str())
            .await?
            .ok_or_else(|| RunnerError::NoElement(element.to_string()))?;
        // Before connecting: a key that could carry extra words into the
        // element's command is refused with nothing sent.
        let (WriteOp::Add { id, .. } | WriteOp::Change { id, .. } | WriteOp::Remove { id }) = &op;
        ucsync_connect::key::check(e.kind, &id.object_type, &id.key)?;
        if self.busy(element.as_str()).await? {
            return Err(RunnerError::Busy(element.to_string()));
        }
        let kept = self.inner.kept.lock().await.get(element.as_str()).cloned();
        let conn = match kept {
            Some(c) => c,
            None => {
                let password = self.store().element_password(element.as_str()).await?;
                self.connect(&e, password).await?.0
            }
        };
        let result = self.inner.engine.administer(&e, conn.as_ref(), &op).await;
        if !self.inner.settings.keep_connections {
            conn.close().await;
        }
        result
    }

    /// Closes the connection kept for an element (removed, or its settings changed).
    pub async fn forget(&self, element: &str) {
        let conn = self.inner.kept.lock().await.remove(element);
        if let Some(c) = conn {
            c.close().await;
        }
    }

    /// Stops taking jobs, stops the running ones at their next safe point
    /// (they end as stopped), waits for them, and closes kept connections.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        for (_, cancel) in self.inner.running.lock().expect("running").values() {
            cancel.cancel();
        }
        while !self.inner.running.lock().expect("running").is_empty() {
            let notified = self.inner.finished.notified();
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().expect("tasks"));
        for t in tasks {
            let _ = t.await;
        }
        let kept: Vec<Arc<dyn Connector>> = self
            .inner
            .kept
            .lock()
            .await
            .drain()
            .map(|(_, c)| c)
            .collect();
        for c in kept {
            c.close().await;
        }
    }

    /// Closes the connections kept between jobs.
    pub async fn close(&self) {
        self.shutdown().await;
    }

    /// Opens a connection to the element (its alternate host when the host
    /// does not answer), and pins its host key if none is pinned yet.
    async fn connect(
        &self,
        element: &Element,
        password: String,
    ) -> Result<(Arc<dyn Connector>, String), ConnectError> {
        let opened = self.open(element, password).await;
        if let Ok((conn, _)) = &opened {
            self.pin_host_key(element, conn.as_ref()).await;
        }
        opened
    }

    async fn open(
        &self,
        element: &Element,
        password: String,
    ) -> Result<(Arc<dyn Connector>, String), ConnectError> {
        match (self.inner.factory)(element.clone(), password.clone()).await {
            Ok(c) => Ok((c, element.host.clone())),
            Err(e) if e.is_unreachable() && element.alternate_host.is_some() => {
                let alternate = element.alternate_host.clone().unwrap_or_default();
                tracing::warn!(element = %element.name, error = %e, %alternate, "host does not answer; trying the alternate host");
                let mut other = element.clone();
                other.host = alternate.clone();
                let c = (self.inner.factory)(other, password).await?;
                Ok((c, alternate))
            }
            Err(e) => Err(e),
        }
    }

    async fn dispatch(&self) {
        let store = self.store().clone();
        let node = self.inner.settings.node.clone();
        match store.fail_interrupted(Some(&node), Utc::now()).await {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!(
                        job = id.0,
                        "job was running when the service stopped: failed as interrupted"
                    );
                    self.publish_job(id).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot fail interrupted jobs"),
        }
        loop {
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            let woken = self.inner.wake.notified();
            let full =
                self.inner.running.lock().expect("running").len() >= self.inner.settings.max_jobs;
            if !full {
                let lease_until = Utc::now()
                    + chrono::Duration::from_std(self.inner.settings.lease)
                        .unwrap_or(chrono::Duration::seconds(30));
                let order = self.inner.order.lock().await;
                let claimed = store.claim_job(&node, lease_until).await;
                match claimed {
                    Ok(Some(job)) => {
                        self.start(job);
                        drop(order);
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot claim a job"),
                }
            }
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(self.inner.settings.poll) => {}
                _ = self.inner.shutdown.cancelled() => return,
            }
        }
    }

    /// Renews this node's leases, stops the jobs another node asked to stop,
    /// and fails the jobs of nodes whose lease ran out.
    async fn keep_leases(&self) {
        let store = self.store().clone();
        let node = self.inner.settings.node.clone();
        let every = self.inner.settings.lease / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.inner.shutdown.cancelled() => return,
            }
            let until = Utc::now()
                + chrono::Duration::from_std(self.inner.settings.lease)
                    .unwrap_or(chrono::Duration::seconds(30));
            match store.renew_leases(&node, until).await {
                Ok(stopping) => {
                    let running = self.inner.running.lock().expect("running");
                    for id in stopping {
                        if let Some((_, cancel)) = running.get(&id) {
                            cancel.cancel();
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot renew job leases"),
            }
            match store.fail_interrupted(None, Utc::now()).await {
                Ok(ids) => {
                    for id in ids {
                        tracing::warn!(
                            job = id.0,
                            "the node running this job stopped answering: failed as interrupted"
                        );
                        self.publish_job(id).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot fail interrupted jobs"),
            }
        }
    }

    /// Stops, within one poll, the running jobs of this node whose state
    /// in the database became `stopping`: a stop asked on another node
    /// (sharing the database), or one that reached the database but not
    /// this node's token.
    async fn watch_stops(&self) {
        let store = self.store().clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.inner.settings.poll) => {}
                _ = self.inner.shutdown.cancelled() => return,
            }
            if self.inner.running.lock().expect("running").is_empty() {
                continue;
            }
            match store.jobs(None, Some(JobState::Stopping), 0, 1000).await {
                Ok(stopping) => {
                    let running = self.inner.running.lock().expect("running");
                    for job in stopping {
                        if let Some((_, cancel)) = running.get(&job.id) {
                            cancel.cancel();
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read which jobs are asked to stop"),
            }
        }
    }

    async fn publish_job(&self, id: JobId) {
        if let Ok(Some(job)) = self.store().job(id).await {
            self.publish(Event::Job { job: Box::new(job) });
        }
    }

    fn start(&self, job: Job) {
        let cancel = self.inner.shutdown.child_token();
        self.inner
            .running
            .lock()
            .expect("running")
            .insert(job.id, (job.element.clone(), cancel.clone()));
        self.publish(Event::Job {
            job: Box::new(job.clone()),
        });
        let me = self.clone();
        tokio::spawn(async move {
            me.run_one(&job, &cancel).await;
            me.inner.running.lock().expect("running").remove(&job.id);
            me.publish_job(job.id).await;
            me.inner.finished.notify_waiters();
            me.inner.wake.notify_one();
        });
    }

    async fn run_one(&self, job: &Job, cancel: &CancellationToken) {
        let store = self.store().clone();
        let fail = |e: String| {
            let store = store.clone();
            async move {
                let _ = store.job_log(job.id, &format!("failed: {e}")).await;
                let _ = store
                    .set_job_state(job.id, JobState::Failed, Some(&e))
                    .await;
            }
        };
        let element = match store.element(&job.element).await {
            Ok(Some(e)) => e,
            Ok(None) => return fail(format!("element '{}' was removed", job.element)).await,
            Err(e) => return fail(e.to_string()).await,
        };
        if let Err(e) = self.prerequisite(&element).await {
            return fail(e).await;
        }
        let first_init = element.sync.last_init_at.is_none();
        let password = match store.element_password(&job.element).await {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()).await,
        };
        // A kept connection is reused; a new one is opened otherwise.
        let kept = self.inner.kept.lock().await.get(&job.element).cloned();
        let conn = match kept {
            Some(c) => Ok(c),
            None => self.connect(&element, password).await.map(|(c, _)| c),
        };
        match conn {
            Ok(conn) => {
                let state = self
                    .inner
                    .engine
                    .run(job, &element, conn.as_ref(), cancel)
                    .await;
                let mut kept = self.inner.kept.lock().await;
                if self.inner.settings.keep_connections && state == JobState::Succeeded {
                    kept.insert(job.element.clone(), conn);
                } else {
                    // A failed job may have left the connection broken: start afresh.
                    kept.remove(&job.element);
                    drop(kept);
                    conn.close().await;
                }
            }
            Err(e) => {
                // The API's code for it, so that a job reads as a request would.
                let e = if e.is_not_allowed() {
                    format!("host-not-allowed: {e}")
                } else {
                    e.to_string()
                };
                if job.requested.is_init() || element.sync.last_init_ok != Some(true) {
                    let _ = store.record_init_failure(element.id, &e).await;
                }
                fail(e).await;
            }
        }
        if first_init && matches!(element.kind, ElementKind::Cm | ElementKind::IpOffice) {
            self.ensure_default_schedule(&element).await;
        }
    }

    /// What must be in the inventory before an element can be synchronized:
    /// a `cm-messaging` element runs on its CM.
    async fn prerequisite(&self, element: &Element) -> Result<(), String> {
        if element.kind != ElementKind::CmMessaging {
            return Ok(());
        }
        let Some(cm) = element.settings.cm.as_deref() else {
            return Err(format!(
                "'{}' is a cm-messaging element but names no cm: set its cm to the cm element it runs on",
                element.name
            ));
        };
        match self.store().element(cm).await {
            Ok(Some(e)) if e.kind == ElementKind::Cm => Ok(()),
            Ok(Some(e)) => Err(format!(
                "'{}' runs on cm '{cm}', but '{cm}' is a {} element: point its cm at a cm element",
                element.name, e.kind
            )),
            Ok(None) => Err(format!(
                "'{}' runs on cm '{cm}', which is not in the inventory: add the cm first, then synchronize",
                element.name
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The host key is pinned the first time ucsync reaches the element,
    /// whatever reached it (a job, a check, an object administered, notify
    /// sync); after that a different key is refused until an administrator
    /// accepts it.
    async fn pin_host_key(&self, element: &Element, conn: &dyn Connector) {
        if element.settings.host_key.is_some() {
            return;
        }
        let Some(fingerprint) = conn.fingerprint() else {
            return;
        };
        let mut settings = element.settings.clone();
        settings.host_key = Some(fingerprint.clone());
        let update = ElementUpdate {
            settings: Some(settings),
            ..Default::default()
        };
        match self
            .store()
            .update_element(element.name.as_str(), update)
            .await
        {
            Ok(_) => {
                tracing::info!(element = %element.name, %fingerprint, "host key pinned");
                self.publish(Event::Element {
                    name: element.name.to_string(),
                    change: "changed".into(),
                });
            }
            Err(e) => {
                tracing::warn!(element = %element.name, error = %e, "cannot pin the host key")
            }
        }
    }

    /// A CM or IP Office gets its default schedule when its first init has
    /// completed, whether it succeeded or not.
    async fn ensure_default_schedule(&self, element: &Element) {
        if let Err(e) = crate::scheduler::add_default(
            self.store().as_ref(),
            &element.name,
            Utc::now(),
            self.inner.settings.time_zone,
        )
        .await
        {
            tracing::warn!(element = %element.name, error = %e, "cannot add the default schedule");
        }
    }
}
