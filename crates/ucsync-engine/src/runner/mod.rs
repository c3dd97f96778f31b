//! The job runner of this node: it takes jobs from the database's queue
//! (see [`crate::queue`]) and runs them, and is what the API holds of the
//! engine. Its parts: `dispatch.rs` claims jobs and runs each to its end,
//! `leases.rs` keeps this node's leases and fails the jobs of nodes that
//! died, `admin.rs` checks connections and administers objects. Queued
//! jobs survive a restart; a job whose node died is failed as
//! "interrupted" — at this node's next start, or by any node once its
//! lease has run out.

mod admin;
mod dispatch;
mod leases;

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OnceCell, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::{ElementName, SyncType, Trigger};
use ucsync_store::{Job, JobId, Requested, Store, StoreError};

use crate::alarms::Alarms;
use crate::connections::{Connections, ConnectorFactory};
use crate::events::{Event, Events};
use crate::notify::{self, NotifyStats};
use crate::queue::Queue;
use crate::retention::RetentionStats;
use crate::sync::SyncEngine;
pub use admin::CheckReport;

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

struct Inner {
    engine: SyncEngine,
    alarms: Alarms,
    queue: Queue,
    connections: Connections,
    settings: RunnerSettings,
    /// Jobs running on this node, by id, with what stops them.
    running: SyncMutex<HashMap<JobId, (String, CancellationToken)>>,
    /// A job of this node ended.
    finished: Notify,
    notify: Arc<NotifyStats>,
    retention: Arc<RetentionStats>,
    shutdown: CancellationToken,
    /// The dispatcher, the lease keeper, the stop watcher and every job.
    tasks: TaskTracker,
    /// Set once the tasks have ended and the kept connections are closed.
    stopped: OnceCell<()>,
    /// Cancelled once stopped: the other nodes have been told all.
    told: CancellationToken,
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
    /// A runner of its own: [`Runner::start`] with a cancellation token and
    /// a task tracker nobody else holds; [`Runner::shutdown`] stops it.
    pub fn new(engine: SyncEngine, factory: ConnectorFactory, settings: RunnerSettings) -> Runner {
        Runner::start(
            engine,
            factory,
            settings,
            CancellationToken::new(),
            &TaskTracker::new(),
        )
    }

    /// Starts the runner on the current tokio runtime: first the jobs this
    /// node was running when it last stopped are failed as interrupted,
    /// then queued jobs run. When `shutdown` is cancelled it takes no more
    /// jobs, the running ones stop at their next safe point (they end as
    /// stopped), and the kept connections are closed once they have;
    /// `tasks` tracks all of it, so waiting on it waits for that.
    pub fn start(
        engine: SyncEngine,
        factory: ConnectorFactory,
        settings: RunnerSettings,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> Runner {
        let store = engine.store().clone();
        let events = Events::default();
        let told = CancellationToken::new();
        let inner_tasks = TaskTracker::new();
        events.join_cluster(
            store.clone(),
            &settings.node,
            (shutdown.clone(), &inner_tasks),
            (told.clone(), tasks),
        );
        let alarms = Alarms::new(store.clone(), events.clone(), engine.clock().clone());
        let runner = Runner {
            inner: Arc::new(Inner {
                alarms,
                engine: engine
                    .with_init_pool(settings.init_pool, settings.poll)
                    .with_events(events.clone()),
                queue: Queue::new(store.clone(), events.clone()),
                connections: Connections::new(factory, settings.keep_connections, store, events),
                running: SyncMutex::new(HashMap::new()),
                finished: Notify::new(),
                notify: Arc::default(),
                retention: Arc::default(),
                shutdown,
                tasks: inner_tasks,
                stopped: OnceCell::new(),
                told,
                settings,
            }),
        };
        let (a, b, c) = (runner.clone(), runner.clone(), runner.clone());
        runner.inner.tasks.spawn(async move { a.dispatch().await });
        runner
            .inner
            .tasks
            .spawn(async move { b.keep_leases().await });
        runner
            .inner
            .tasks
            .spawn(async move { c.watch_stops().await });
        let me = runner.clone();
        tasks.spawn(async move {
            me.inner.shutdown.cancelled().await;
            me.stopped().await;
        });
        runner
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.queue.store()
    }

    /// This node's name in the job queue.
    pub fn node(&self) -> &str {
        &self.inner.settings.node
    }

    pub fn engine(&self) -> &SyncEngine {
        &self.inner.engine
    }

    /// The catalogues in effect: the connectors read them, and keys are
    /// checked by them before anything connects.
    pub fn catalogs(&self) -> &ucsync_connect::Catalogs {
        self.inner.connections.catalogs()
    }

    /// The job queue, for those who only add to it (the scheduler).
    pub fn queue(&self) -> &Queue {
        &self.inner.queue
    }

    /// Raises and clears this node's alarms.
    pub fn alarms(&self) -> &Alarms {
        &self.inner.alarms
    }

    /// This node's element connections.
    pub fn connections(&self) -> &Connections {
        &self.inner.connections
    }

    /// What notify sync works with.
    pub fn notify_handles(&self) -> notify::Handles {
        notify::Handles {
            queue: self.inner.queue.clone(),
            connections: self.inner.connections.clone(),
            engine: self.inner.engine.clone(),
            stats: self.inner.notify.clone(),
        }
    }

    /// The most inits that ran at once.
    pub fn peak_inits(&self) -> usize {
        self.inner.engine.peak_inits()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.queue.events().subscribe()
    }

    pub fn publish(&self, ev: Event) {
        self.inner.queue.events().publish(ev);
    }

    /// Asks for a sync (see [`Queue::request`]).
    pub async fn request(
        &self,
        element: &ElementName,
        requested: SyncType,
        trigger: Trigger,
        requested_by: &str,
    ) -> Result<Requested, StoreError> {
        self.inner
            .queue
            .request(element, requested, trigger, requested_by)
            .await
    }

    /// Asks for any job (see [`Queue::request_job`]): a dry run too.
    pub async fn request_job(&self, job: ucsync_store::NewJob) -> Result<Requested, StoreError> {
        self.inner.queue.request_job(job).await
    }

    /// Stops a running job at its next safe point, or a queued one at once.
    pub async fn stop(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let job = self.store().stop_job(id).await?;
        self.cancel_local(std::iter::once(id));
        if let Some(job) = &job {
            self.publish(Event::Job {
                job: Box::new(job.clone()),
            });
        }
        Ok(job)
    }

    /// Waits until the job has finished and returns it. A job of this node
    /// has finished once all of it has: its final state told on the event
    /// stream, its connection kept or closed, its element's default
    /// schedule added.
    pub async fn wait(&self, id: JobId) -> Result<Job, StoreError> {
        loop {
            let notified = self.inner.finished.notified();
            let job = self.store().job(id).await?.ok_or(StoreError::NoJob(id))?;
            let here = self
                .inner
                .running
                .lock()
                .expect("running")
                .contains_key(&id);
            if job.state.is_finished() && !here {
                return Ok(job);
            }
            // Jobs of other nodes end without telling this one: look again.
            let _ = tokio::time::timeout(self.inner.settings.poll, notified).await;
        }
    }

    /// The counters of notify sync on this node.
    pub fn notify_stats(&self) -> &Arc<NotifyStats> {
        &self.inner.notify
    }

    /// What job retention removed on this node (the service gives them to
    /// its [`crate::Retention`]).
    pub fn retention_stats(&self) -> &Arc<RetentionStats> {
        &self.inner.retention
    }

    /// Closes the connection kept for an element (removed, or its settings changed).
    pub async fn forget(&self, element: &str) {
        self.inner.connections.forget(element).await;
    }

    /// Cancels this runner's token (it takes no more jobs, the running ones
    /// stop at their next safe point and end as stopped) and waits until
    /// its tasks have ended and the kept connections are closed.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.stopped().await;
    }

    /// Waits, once the token is cancelled, for the tasks to end, then
    /// closes the kept connections; every caller waits for the same.
    async fn stopped(&self) {
        self.inner
            .stopped
            .get_or_init(|| async {
                self.inner.tasks.close();
                self.inner.tasks.wait().await;
                self.inner.connections.close_all().await;
                self.inner.told.cancel();
            })
            .await;
    }

    /// Stops the jobs among `ids` that run on this node.
    fn cancel_local(&self, ids: impl IntoIterator<Item = JobId>) {
        let running = self.inner.running.lock().expect("running");
        for id in ids {
            if let Some((_, cancel)) = running.get(&id) {
                cancel.cancel();
            }
        }
    }

    /// This node's "now".
    fn now(&self) -> DateTime<Utc> {
        self.inner.engine.clock().now()
    }
}
