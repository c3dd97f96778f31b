//! Fuzz target: the CM-side OSSI request assembler on arbitrary bytes
//! (`ucsync_ossi::fuzzing::request_assembler`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ucsync_ossi::fuzzing::request_assembler(data);
});
