//! Fuzz target: the OSSI response decoder on arbitrary bytes from a CM
//! (`ucsync_ossi::fuzzing::response_decoder`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ucsync_ossi::fuzzing::response_decoder(data);
});
