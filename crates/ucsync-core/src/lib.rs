//! ucsync's domain, with no IO: what elements, objects and jobs are, the
//! content hash that tells whether an object changed, the diff between what is
//! stored and what an element returned, the discrepancy check, and the rules
//! that decide which kind of sync runs and why.
//!
//! Nothing here knows about CM, SSH or SQL; element kinds plug in through the
//! connector interface of `ucsync-connect`.

pub mod decide;
pub mod diff;
pub mod index;
pub mod json;
pub mod network;
pub mod object;
pub mod secret;
pub mod status;
pub mod types;

pub use decide::{
    ChangeSummary, Decision, MAX_INCREMENTAL_ROWS, RUN_AN_INIT, SyncFacts, decide, escalate,
};
pub use diff::{DeleteGuard, Differ, Discrepancy, Hashed, Plan, PlanOp, Thresholds, TypeCounts};
pub use index::{HashIndex, HashIndexBuilder, key_digest};
pub use network::{BadNetwork, ElementNetworks, HostNotAllowed};
pub use object::{ContentHash, Fields, FieldsIter, Object, ObjectId};
pub use secret::{Password, SecretError, SecretKey};
pub use status::{ElementStatus, LastJob, StatusFacts, element_status};
pub use types::{
    AlarmCondition, ElementKind, ElementName, ElementState, JobState, Role, Severity, SyncType,
    Trigger,
};
