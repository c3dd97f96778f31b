//! End-to-end tests of the ucsync binary.
