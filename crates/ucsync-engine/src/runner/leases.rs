//! Leases: this node renews the lease of each job it runs; a job whose
//! lease ran out (its node died) is failed as "interrupted" by any node,
//! and this node's own unfinished jobs are failed so at its start. A stop
//! asked on another node (the job's state `stopping` in the database)
//! reaches the job here within one poll.

use ucsync_core::JobState;

use super::Runner;

impl Runner {
    /// Until when a lease taken or renewed now lasts.
    pub(super) fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        self.now()
            + chrono::Duration::from_std(self.inner.settings.lease)
                .unwrap_or(chrono::Duration::seconds(30))
    }

    /// At the start: the jobs this node was running when it last stopped
    /// are failed as interrupted.
    pub(super) async fn fail_own_interrupted(&self) {
        self.fail_interrupted(
            Some(&self.inner.settings.node),
            "job was running when the service stopped: failed as interrupted",
        )
        .await;
    }

    /// Fails as interrupted the unfinished jobs whose lease has run out,
    /// and with `node` every unfinished job of that node; logs `why` for
    /// each.
    async fn fail_interrupted(&self, node: Option<&str>, why: &str) {
        match self.store().fail_interrupted(node, self.now()).await {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!(job = id.0, "{why}");
                    self.inner.queue.publish_job(id).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot fail interrupted jobs"),
        }
    }

    /// Renews this node's leases, stops the jobs another node asked to stop,
    /// and fails the jobs of nodes whose lease ran out.
    pub(super) async fn keep_leases(&self) {
        let store = self.store().clone();
        let node = self.inner.settings.node.clone();
        let every = self.inner.settings.lease / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.inner.shutdown.cancelled() => return,
            }
            match store.renew_leases(&node, self.lease_until()).await {
                Ok(stopping) => self.cancel_local(stopping),
                Err(e) => tracing::error!(error = %e, "cannot renew job leases"),
            }
            self.fail_interrupted(
                None,
                "the node running this job stopped answering: failed as interrupted",
            )
            .await;
        }
    }

    /// Stops, within one poll, the running jobs of this node whose state
    /// in the database became `stopping`: a stop asked on another node
    /// (sharing the database), or one that reached the database but not
    /// this node's token.
    pub(super) async fn watch_stops(&self) {
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
                Ok(stopping) => self.cancel_local(stopping.into_iter().map(|j| j.id)),
                Err(e) => tracing::error!(error = %e, "cannot read which jobs are asked to stop"),
            }
        }
    }
}
