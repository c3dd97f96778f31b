//! ucsync's database, behind one interface ([`Store`]). Embedded SQLite is
//! the default; a PostgreSQL backend implements the same trait for several
//! nodes. Nothing SQLite-specific crosses this interface.
//!
//! The store encrypts element passwords with the installation's secret key;
//! secret object fields arrive already encrypted (the engine knows which
//! fields are secret) and content hashes are of the plaintext.

mod model;
mod sqlite;

use async_trait::async_trait;
use ucsync_core::{HashIndex, JobState, ObjectId, SyncType};

pub use model::*;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("element '{0}' already exists")]
    Exists(String),
    #[error("no element '{0}'")]
    NoElement(String),
    #[error("no job {0}")]
    NoJob(JobId),
    #[error("{0}")]
    Secret(#[from] ucsync_core::SecretError),
    #[error("database: {0}")]
    Database(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which objects to list.
#[derive(Debug, Clone, Default)]
pub struct ObjectQuery {
    pub object_type: Option<String>,
    pub key: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

/// The database of ucsync.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    // Elements.
    async fn add_element(&self, e: NewElement) -> Result<Element>;
    async fn element(&self, name: &str) -> Result<Option<Element>>;
    async fn elements(&self) -> Result<Vec<Element>>;
    /// The element's password, decrypted, for the one place that logs in.
    async fn element_password(&self, name: &str) -> Result<String>;
    /// Removes the element and everything synchronized from it.
    async fn remove_element(&self, name: &str) -> Result<bool>;

    // Objects.
    /// Keys and content hashes of every object of an element: what an init diffs against.
    async fn object_hashes(&self, element: ElementId) -> Result<HashIndex>;
    /// The objects of an element whose identity digests are given (see
    /// `ucsync_core::key_digest`): how an init learns the keys of its deletions.
    async fn object_ids(&self, element: ElementId, digests: Vec<u128>) -> Result<Vec<ObjectId>>;
    async fn objects(&self, element: ElementId, q: &ObjectQuery) -> Result<Vec<StoredObject>>;
    async fn object_count(&self, element: ElementId) -> Result<u64>;

    // Init: staged outside the final transaction, applied in one short one.
    async fn stage(&self, job: JobId, batch: Vec<Staged>) -> Result<()>;
    /// Applies what the job staged plus `deletes`, records the init as
    /// successful with its versions and sync point, and logs every change.
    async fn commit_init(
        &self,
        job: JobId,
        element: ElementId,
        deletes: &[ObjectId],
        outcome: &InitOutcome,
    ) -> Result<()>;
    /// Keeps what the job staged, plus `deletes`, as the changes it would have
    /// applied, without applying them.
    async fn keep_proposal(&self, job: JobId, deletes: &[ObjectId]) -> Result<()>;
    /// Drops what the job staged.
    async fn discard_staged(&self, job: JobId) -> Result<()>;
    async fn record_init_failure(&self, element: ElementId, error: &str) -> Result<()>;

    // Changes outside an init.
    /// Applies changes and moves the sync point, in one transaction. Returns
    /// how many objects were added, changed, deleted, and found unchanged
    /// (an upsert of what is stored, a delete of what is not).
    async fn apply_changes(
        &self,
        job: Option<JobId>,
        element: ElementId,
        changes: Vec<Change>,
        sync_point: Option<&str>,
    ) -> Result<JobCounts>;
    /// The changes a job applied, or would have applied.
    async fn changes(&self, job: JobId) -> Result<Vec<ChangeRecord>>;

    // Jobs.
    async fn create_job(
        &self,
        job: &NewJob,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<Job>;
    async fn job(&self, id: JobId) -> Result<Option<Job>>;
    async fn jobs(
        &self,
        element: Option<&str>,
        state: Option<JobState>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Job>>;
    async fn set_job_state(&self, id: JobId, state: JobState, error: Option<&str>) -> Result<()>;
    async fn set_job_type(
        &self,
        id: JobId,
        sync_type: SyncType,
        reason: Option<&str>,
    ) -> Result<()>;
    async fn set_job_progress(
        &self,
        id: JobId,
        progress: &Progress,
        counts: &JobCounts,
    ) -> Result<()>;
    async fn job_log(&self, id: JobId, line: &str) -> Result<()>;
    async fn job_log_lines(&self, id: JobId) -> Result<Vec<String>>;
}
