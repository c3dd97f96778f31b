//! Emulators of the elements ucsync manages, speaking their real protocols,
//! for labs, demos and tests.
//!
//! They share only the protocol definitions (`ucsync-ossi`) with the product,
//! never its connectors or sync code, so a sync bug cannot hide in both.

pub mod cm;
pub mod messaging;
