//! End-to-end tests of the ucsync binary, run as a user would run it.

mod cli;
mod e2e;
mod http_limits;
mod ipo;
mod loopback;
mod networks;
mod notify;
mod notify_limits;
mod recovery;
mod service;
