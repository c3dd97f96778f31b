//! Replays the fuzz corpus (`fuzz/corpus/syslog/`) through the fuzz entry
//! point on the stable toolchain, so every seed and every input that once
//! crashed the target stays a regression test without `cargo fuzz`.

use ucsync_syslog::fuzzing;
use ucsync_testkit::fuzz::replay;

#[test]
fn syslog_corpus() {
    replay("syslog", 40, fuzzing::syslog);
}
