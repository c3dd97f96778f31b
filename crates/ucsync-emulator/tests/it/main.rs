//! Integration tests of the emulators.
mod commands;
mod compat;
mod model;
mod ssh;
