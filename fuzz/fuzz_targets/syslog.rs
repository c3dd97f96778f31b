#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ucsync_syslog::fuzzing::syslog(data);
});
