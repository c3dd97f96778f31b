//! The job queue as those who add to it see it — the scheduler, notify
//! sync, the API through the runner: request a job, see whether one runs
//! on an element, and the event stream. The database is the queue (the
//! store joins or queues atomically); this handle adds the order in which
//! job events are told and the wake-up of this node's dispatcher. It
//! knows nothing of the runner, which takes jobs from it.

use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard, Notify};
use ucsync_core::{ElementName, JobState, SyncType, Trigger};
use ucsync_store::{JobId, NewJob, Requested, Store, StoreError};

use crate::events::{Event, Events};

/// A handle on the job queue; clones share it.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    events: Events,
    /// Wakes this node's dispatcher: a job was queued here, or one ended.
    wake: Notify,
    /// Held from storing a job's new state to publishing it, where two
    /// tasks may change the same job (queued by a request, claimed by the
    /// dispatcher), so the stream never tells them out of order.
    order: Mutex<()>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl Queue {
    pub fn new(store: Arc<dyn Store>, events: Events) -> Queue {
        Queue {
            inner: Arc::new(Inner {
                store,
                events,
                wake: Notify::new(),
                order: Mutex::new(()),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn events(&self) -> &Events {
        &self.inner.events
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
        self.request_job(NewJob {
            element: element.clone(),
            requested,
            trigger,
            requested_by: requested_by.to_string(),
            dry_run: false,
        })
        .await
    }

    /// As [`Queue::request`], of any job — a dry run too, which joins only
    /// another dry run (and a sync only a sync).
    pub async fn request_job(&self, job: NewJob) -> Result<Requested, StoreError> {
        let _order = self.order().await;
        let r = self.store().request_job(&job).await?;
        if !r.joined {
            self.events().publish(Event::Job {
                job: Box::new(r.job.clone()),
            });
            self.inner.wake.notify_one();
        }
        Ok(r)
    }

    /// Whether a job runs on the element (on any node).
    pub async fn busy(&self, element: &str) -> Result<bool, StoreError> {
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

    /// Tells the stream of the job as it is stored now.
    pub(crate) async fn publish_job(&self, id: JobId) {
        if let Ok(Some(job)) = self.store().job(id).await {
            self.events().publish(Event::Job { job: Box::new(job) });
        }
    }

    /// Held while a job's new state is stored and published.
    pub(crate) async fn order(&self) -> MutexGuard<'_, ()> {
        self.inner.order.lock().await
    }

    /// What wakes this node's dispatcher.
    pub(crate) fn wake(&self) -> &Notify {
        &self.inner.wake
    }
}
