//! The connectors against the emulators: the IP Office connector over HTTP
//! and HTTPS (the CM connector is tested through the engine and `ucsync-sat`).

mod ipo;
