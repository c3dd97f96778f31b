//! The parts of the `ucsync` binary that its benchmarks use too.

pub mod connectors;
