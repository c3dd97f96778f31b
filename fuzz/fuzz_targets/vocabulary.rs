//! Fuzz target: arbitrary text resolved as a SAT command
//! (`ucsync_ossi::fuzzing::vocabulary`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ucsync_ossi::fuzzing::vocabulary(data);
});
