//! The SQLite store, on a file in a temporary directory.

mod sqlite;
