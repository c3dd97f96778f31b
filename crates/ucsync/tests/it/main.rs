//! End-to-end tests of the ucsync binary, run as a user would run it.

mod cli;
mod e2e;
mod ipo;
mod loopback;
mod networks;
mod notify;
mod progress;
mod service;
mod stop;
mod wrong_port;
