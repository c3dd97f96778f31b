//! The store's tests: the contract every backend keeps (`contract`), run on
//! each backend, and what is particular to each backend.

mod contract;
mod pg_tls;
mod postgres;
mod sqlite;
