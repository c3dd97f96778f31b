//! The sync engine: runs init, incremental and force-init jobs on any element
//! through the connector interface, applying the seed's rules (decided in
//! `ucsync-core`) and keeping the database consistent through the store: an
//! init stages what it reads and applies it in one short final transaction,
//! an incremental applies its changes and moves the sync point in one. The
//! runner takes jobs from the database's queue; the scheduler fires
//! schedules into it.

pub mod connectors;
pub mod hashing;
pub mod notify;
mod runner;
pub mod scheduler;
mod sync;

pub use runner::{CheckReport, ConnectorFactory, Event, Runner, RunnerError, RunnerSettings};
pub use scheduler::Scheduler;
pub use sync::{SYNC_FORMAT, SyncEngine, SyncSettings};
