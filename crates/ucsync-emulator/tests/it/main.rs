//! Integration tests of the emulators.
mod model;
