//! Integration tests of the emulators.
mod commands;
mod compat;
mod messaging;
mod model;
mod ssh;
