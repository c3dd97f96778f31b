//! The sync engine: runs init, incremental and force-init jobs on any element
//! through the connector interface, applying the seed's rules (decided in
//! `ucsync-core`) and keeping the database consistent through the store: an
//! init stages what it reads and applies it in one short final transaction,
//! an incremental applies its changes and moves the sync point in one. The
//! runner takes jobs from the database's queue; the scheduler and notify
//! sync add to it through a [`Queue`] handle; retention removes old jobs
//! once a day. Modules depend on each other
//! in one direction only (see ARCHITECTURE.md).

pub mod alarms;
pub mod connections;
pub mod connectors;
pub mod defaults;
mod error;
pub mod events;
pub mod hashing;
pub mod notify;
mod plan;
pub mod queue;
pub mod records;
pub mod retention;
mod runner;
pub mod scheduler;
mod sync;

pub use alarms::{AlarmChange, Alarms};
pub use connections::{Connections, ConnectorFactory};
pub use error::RunnerError;
pub use events::{Event, Events};
pub use queue::Queue;
pub use retention::{Retention, RetentionSettings, RetentionStats};
pub use runner::{CheckReport, Runner, RunnerSettings};
pub use scheduler::Scheduler;
pub use sync::{SYNC_FORMAT, SyncEngine, SyncSettings};
