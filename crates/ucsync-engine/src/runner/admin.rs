//! What the API asks of an element outside jobs: a connection check, and
//! administering an object through ucsync (made on the element and stored
//! in one step, refused while a job runs on the element).

use std::sync::Arc;

use serde::Serialize;
use ucsync_connect::{Connector, WriteOp};
use ucsync_core::{ElementName, Object};
use ucsync_store::{Element, Job, JobId, StoreError};

use super::Runner;
use crate::error::RunnerError;

/// What a connection check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub version: String,
    /// The element's host-key (or certificate) fingerprint.
    pub fingerprint: Option<String>,
    /// The address that answered.
    pub host: String,
}

impl Runner {
    /// Connects to the element (its alternate host when the host does not
    /// answer), logs in, and reports what it found.
    /// An answer clears the element's alarms of reaching it; a failure to
    /// reach it raises one.
    pub async fn check(&self, element: &Element) -> Result<CheckReport, RunnerError> {
        let name = element.name.as_str();
        let (conn, host) = match self.inner.connections.open(element).await {
            Ok(c) => c,
            Err(e) => {
                if let RunnerError::Connect(ce) = &e {
                    self.inner.alarms.checked(name, Err(ce)).await;
                }
                return Err(e);
            }
        };
        let version = conn.version().await;
        let fingerprint = conn.fingerprint();
        conn.close().await;
        self.inner
            .alarms
            .checked(name, version.as_ref().map(|_| ()))
            .await;
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
        self.catalogs().check(e.kind, &id.object_type, &id.key)?;
        if self.inner.queue.busy(element.as_str()).await? {
            return Err(RunnerError::Busy(element.to_string()));
        }
        let connections = &self.inner.connections;
        let conn: Arc<dyn Connector> = match connections.kept(element.as_str()).await {
            Some(c) => c,
            None => connections.open(&e).await?.0,
        };
        let result = self.inner.engine.administer(&e, conn.as_ref(), &op).await;
        if !connections.keeps() {
            conn.close().await;
        }
        result
    }

    /// Applies the plan a dry run (or a refused init) kept, if neither the
    /// element nor the database changed since: on a connection of its own,
    /// refused while a job runs on the element. Returns the job as it is
    /// now, with who applied it and when.
    pub async fn apply_plan(&self, id: JobId, by: &str) -> Result<Job, RunnerError> {
        let store = self.store();
        let job = store.job(id).await?.ok_or(StoreError::NoJob(id))?;
        if !job.state.is_finished() {
            return Err(RunnerError::NoPlan(id));
        }
        let e = store
            .element(&job.element)
            .await?
            .ok_or_else(|| RunnerError::NoElement(job.element.clone()))?;
        if self.inner.queue.busy(&job.element).await? {
            return Err(RunnerError::Busy(job.element.clone()));
        }
        // A connection of its own: a kept one may remember what the element
        // said before the plan.
        let (conn, _) = self.inner.connections.open(&e).await?;
        let result = self
            .inner
            .engine
            .apply_plan(&job, &e, conn.as_ref(), by)
            .await;
        conn.close().await;
        result?;
        self.inner.queue.publish_job(id).await;
        Ok(store.job(id).await?.ok_or(StoreError::NoJob(id))?)
    }
}
