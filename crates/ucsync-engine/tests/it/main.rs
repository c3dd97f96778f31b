//! The sync engine against the CM emulator over SSH and the IP Office
//! emulator over HTTP, on SQLite: each test on the test kit's [`Rig`].

mod alarms;
mod ipo;
mod messaging;
mod plans;
mod retention;
mod runner;
mod scheduler;
mod slapd;
mod sync;

pub use ucsync_testkit::Rig;
pub use ucsync_testkit::emulators::{OUTSIDE, OWN, cm as emulator, cm_settings};
pub use ucsync_testkit::wait::{claimed, until};
