//! Integration tests of the emulators.
mod commands;
mod compat;
mod ipo;
mod model;
mod ssh;
