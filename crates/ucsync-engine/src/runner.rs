//! Jobs in-process: one sync at a time per element, requests that join a
//! queued or running job of the same or greater strength, stronger requests
//! queued after it, and every init through one bounded pool.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;
use ucsync_connect::{ConnectError, Connector};
use ucsync_core::{ElementName, JobState, SyncType, Trigger};
use ucsync_store::{Element, Job, JobId, NewJob, StoreError};

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
    /// Inits running at once, over all elements.
    pub init_pool: usize,
    /// Keep each element's connection (for a CM, its SAT sessions) open
    /// between jobs, for notify sync and quick incrementals.
    pub keep_connections: bool,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            init_pool: 8,
            keep_connections: false,
        }
    }
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Job>,
    running: Option<(Job, CancellationToken)>,
}

struct Inner {
    engine: SyncEngine,
    factory: ConnectorFactory,
    queues: Mutex<HashMap<String, Queue>>,
    finished: Notify,
    settings: RunnerSettings,
    kept: Mutex<HashMap<String, Arc<dyn Connector>>>,
}

/// Runs sync jobs.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    pub fn new(engine: SyncEngine, factory: ConnectorFactory, settings: RunnerSettings) -> Runner {
        Runner {
            inner: Arc::new(Inner {
                engine: engine.with_init_pool(settings.init_pool),
                factory,
                queues: Mutex::new(HashMap::new()),
                finished: Notify::new(),
                kept: Mutex::new(HashMap::new()),
                settings: settings.clone(),
            }),
        }
    }

    /// The most inits that ran at once.
    pub fn peak_inits(&self) -> usize {
        self.inner.engine.peak_inits()
    }

    /// Asks for a sync: returns the job that will do it — an existing one of
    /// the same or greater strength, or a new one queued after what runs now.
    pub async fn request(
        &self,
        element: &ElementName,
        requested: SyncType,
        trigger: Trigger,
        requested_by: &str,
    ) -> Result<Job, StoreError> {
        let store = self.inner.engine.store().clone();
        if store.element(element.as_str()).await?.is_none() {
            return Err(StoreError::NoElement(element.to_string()));
        }
        let mut queues = self.inner.queues.lock().await;
        let q = queues.entry(element.to_string()).or_default();
        let existing = q
            .running
            .iter()
            .map(|(j, _)| j)
            .chain(q.waiting.iter())
            .find(|j| j.requested.strength() >= requested.strength())
            .map(|j| j.id);
        if let Some(id) = existing {
            return store.job(id).await?.ok_or(StoreError::NoJob(id));
        }
        let job = store
            .create_job(
                &NewJob {
                    element: element.clone(),
                    requested,
                    trigger,
                    requested_by: requested_by.to_string(),
                },
                requested,
                None,
            )
            .await?;
        q.waiting.push_back(job.clone());
        if q.running.is_none() {
            self.start_next(&mut queues, element.as_str());
        }
        Ok(job)
    }

    fn start_next(&self, queues: &mut HashMap<String, Queue>, element: &str) {
        let Some(q) = queues.get_mut(element) else {
            return;
        };
        let Some(job) = q.waiting.pop_front() else {
            return;
        };
        let cancel = CancellationToken::new();
        q.running = Some((job.clone(), cancel.clone()));
        let me = self.clone();
        let element = element.to_string();
        tokio::spawn(async move {
            me.run_one(&job, &cancel).await;
            let mut queues = me.inner.queues.lock().await;
            if let Some(q) = queues.get_mut(&element) {
                q.running = None;
            }
            me.start_next(&mut queues, &element);
            drop(queues);
            me.inner.finished.notify_waiters();
        });
    }

    async fn run_one(&self, job: &Job, cancel: &CancellationToken) {
        let store = self.inner.engine.store().clone();
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
        let password = match store.element_password(&job.element).await {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()).await,
        };
        // A kept connection is reused; a new one is opened otherwise.
        let kept = self.inner.kept.lock().await.get(&job.element).cloned();
        let conn = match kept {
            Some(c) => Ok(c),
            None => (self.inner.factory)(element.clone(), password).await,
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
                if job.requested.is_init() || element.sync.last_init_ok != Some(true) {
                    let _ = store.record_init_failure(element.id, &e.to_string()).await;
                }
                fail(e.to_string()).await;
            }
        }
    }

    /// Closes the connections kept between jobs.
    pub async fn close(&self) {
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

    /// Stops a running job at its next safe point, or drops a queued one.
    pub async fn stop(&self, id: JobId) -> Result<bool, StoreError> {
        let store = self.inner.engine.store().clone();
        let mut queues = self.inner.queues.lock().await;
        for q in queues.values_mut() {
            if let Some((j, cancel)) = &q.running {
                if j.id == id {
                    cancel.cancel();
                    store.set_job_state(id, JobState::Stopping, None).await?;
                    return Ok(true);
                }
            }
            if let Some(i) = q.waiting.iter().position(|j| j.id == id) {
                q.waiting.remove(i);
                store
                    .set_job_state(id, JobState::Stopped, Some("stopped before it started"))
                    .await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Waits until the job has finished and returns it.
    pub async fn wait(&self, id: JobId) -> Result<Job, StoreError> {
        let store = self.inner.engine.store().clone();
        loop {
            let notified = self.inner.finished.notified();
            let job = store.job(id).await?.ok_or(StoreError::NoJob(id))?;
            if job.state.is_finished() {
                return Ok(job);
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
        }
    }
}
