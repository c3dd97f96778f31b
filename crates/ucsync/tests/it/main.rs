//! End-to-end tests of the ucsync binary, run as a user would run it.

mod cli;
mod cluster;
mod e2e;
mod https;
mod ipo;
mod loopback;
mod metrics;
mod networks;
mod notify;
mod operator;
mod recovery;
mod service;
