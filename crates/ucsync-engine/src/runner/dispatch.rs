//! Taking jobs and running them: the dispatcher claims queued jobs whose
//! element has nothing running (at most `max_jobs` at once on this node,
//! each with a lease), and each job runs in a task of its own — the
//! element checked, a connection kept or opened, the sync engine run,
//! the connection kept or closed, the default schedule added after a first
//! init. Every init waits for a place in the one init pool of all nodes
//! (in the state `waiting`) inside the sync engine.

use tokio_util::sync::CancellationToken;
use ucsync_core::{AlarmCondition, ElementKind, JobState};
use ucsync_store::{Element, Job};

use super::Runner;
use crate::alarms::{JobEnd, condition_of};
use crate::events::Event;

impl Runner {
    pub(super) async fn dispatch(&self) {
        self.fail_own_interrupted().await;
        let store = self.store().clone();
        let node = self.inner.settings.node.clone();
        let queue = &self.inner.queue;
        loop {
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            let woken = queue.wake().notified();
            let full =
                self.inner.running.lock().expect("running").len() >= self.inner.settings.max_jobs;
            if !full {
                let lease_until = self.lease_until();
                let order = queue.order().await;
                let claimed = store.claim_job(&node, lease_until).await;
                match claimed {
                    Ok(Some(job)) => {
                        self.start_job(job);
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

    fn start_job(&self, job: Job) {
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
        self.inner.tasks.spawn(async move {
            me.run_one(&job, &cancel).await;
            // Told before the job leaves `running`, so that whoever waits
            // for it has seen its end on the stream.
            me.inner.queue.publish_job(job.id).await;
            me.inner.running.lock().expect("running").remove(&job.id);
            me.inner.finished.notify_waiters();
            me.inner.queue.wake().notify_one();
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
            fail(e.clone()).await;
            let end = JobEnd {
                state: JobState::Failed,
                failure: Some((AlarmCondition::SyncFailed, e)),
                wrapped: None,
            };
            return self.inner.alarms.job_ended(&job.element, &end).await;
        }
        let password = match store.element_password(&job.element).await {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()).await,
        };
        // A kept connection is reused; a new one is opened otherwise.
        let connections = &self.inner.connections;
        let conn = match connections.kept(&job.element).await {
            Some(c) => Ok(c),
            None => connections
                .connect(&element, password)
                .await
                .map(|(c, _)| c),
        };
        match conn {
            Ok(conn) => {
                let end = self
                    .inner
                    .engine
                    .run(job, &element, conn.as_ref(), cancel)
                    .await;
                connections
                    .job_ended(&job.element, conn, end.state == JobState::Succeeded)
                    .await;
                self.inner.alarms.job_ended(&job.element, &end).await;
            }
            Err(e) => {
                let condition = condition_of(&e);
                // The API's code for it, so that a job reads as a request would.
                let e = if e.is_not_allowed() {
                    format!("host-not-allowed: {e}")
                } else {
                    e.to_string()
                };
                if job.requested.is_init() || element.sync.last_init_ok != Some(true) {
                    let _ = store.record_init_failure(element.id, &e).await;
                }
                fail(e.clone()).await;
                let end = JobEnd {
                    state: JobState::Failed,
                    failure: Some((condition, e)),
                    wrapped: None,
                };
                self.inner.alarms.job_ended(&job.element, &end).await;
            }
        }
        crate::defaults::after_job(
            store.as_ref(),
            &element,
            self.now(),
            self.inner.settings.time_zone,
        )
        .await;
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
}
