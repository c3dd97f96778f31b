//! The CM connector against the emulator over SSH.
