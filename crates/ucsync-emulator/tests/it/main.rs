//! Integration tests of the emulators.
mod commands;
mod model;
mod ssh;
