//! An OSSI client for Communication Manager.
//!
//! [`SatSession`] is one SSH connection with one SAT session in OSSI mode,
//! keeping many commands in flight (a window); [`SatClient`] keeps several
//! sessions to one CM, reconnects them with backoff, and retries what is safe
//! to retry. The protocol itself lives in `ucsync-ossi`; this crate owns the IO.

mod banner;
mod config;
mod error;
mod pool;
mod session;

pub use config::SatConfig;
pub use error::SatError;
pub use pool::SatClient;
pub use session::SatSession;
