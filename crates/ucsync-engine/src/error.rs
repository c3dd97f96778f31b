//! What the runner, its connections and administering can fail with, for
//! the API to map to its codes.

use ucsync_connect::ConnectError;
use ucsync_store::{JobId, StoreError};

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
    /// The element or ucsync's database changed since the plan was made.
    #[error("the plan is stale: run the preview again ({0})")]
    Stale(String),
    #[error(
        "job {0} keeps no plan to apply: only a dry run that succeeded, or an init the discrepancy check refused, keeps one"
    )]
    NoPlan(JobId),
    #[error("the plan of job {job} was already applied, at {at} by {by}")]
    PlanApplied { job: JobId, at: String, by: String },
    /// A write whose answer was lost: it may have been made. `settled` says
    /// what ucsync did so that the database does not take it as not made.
    #[error("{error}: the element's answer was lost, so the change may have been made; {settled}")]
    AnswerLost {
        error: ConnectError,
        settled: String,
    },
}
