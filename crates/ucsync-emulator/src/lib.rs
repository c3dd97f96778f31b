//! Emulators of the elements ucsync manages, speaking their real protocols,
//! for labs, demos and tests.
//!
//! They share only the protocol definitions (`ucsync-ossi`) with the product,
//! never its connectors or sync code, so a sync bug cannot hide in both. The
//! IP Office emulator shares not even that: it and the connector are each
//! written against the documented model (`docs/ip-office-config-api.yaml`).

pub mod cm;
pub mod ipo;
pub mod messaging;
