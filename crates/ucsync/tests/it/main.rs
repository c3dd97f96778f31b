//! End-to-end tests of the ucsync binary, run as a user would run it.

mod alarms;
mod catalog;
mod cli;
mod cluster;
mod e2e;
mod http_limits;
mod https;
mod import;
mod ipo;
mod loopback;
mod metrics;
mod networks;
mod notify;
mod notify_cluster;
mod notify_limits;
mod operator;
mod preview;
mod progress;
mod recovery;
mod service;
mod stop;
mod three_nodes;
mod wrong_port;
