//! Fuzz target: syslog framing and RFC 5424/3164 decoding of notify-sync
//! messages on arbitrary bytes (`ucsync_syslog::fuzzing::syslog`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ucsync_syslog::fuzzing::syslog(data);
});
