//! Integration tests of the emulators.
mod commands;
mod compat;
mod ipo;
mod messaging;
mod model;
mod ssh;
