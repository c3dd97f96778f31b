//! The sync engine: runs init, incremental and force-init jobs on any element
//! through the connector interface, applying the seed's rules (decided in
//! `ucsync-core`) and keeping the database consistent through the store: an
//! init stages what it reads and applies it in one short final transaction,
//! an incremental applies its changes and moves the sync point in one.

pub mod hashing;
mod runner;
mod sync;

pub use runner::{ConnectorFactory, Runner, RunnerSettings};
pub use sync::{SYNC_FORMAT, SyncEngine, SyncSettings};
