//! What the runner, its connections and administering can fail with, for
//! the API to map to its codes.

use ucsync_connect::ConnectError;
use ucsync_store::StoreError;

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
