//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) through the fuzz entry
//! points on the stable toolchain, so every input that once crashed a target,
//! and every seed, stays a regression test without `cargo fuzz`.

use ucsync_ossi::fuzzing;
use ucsync_testkit::fuzz::replay;

#[test]
fn response_decoder_corpus() {
    replay("response_decoder", 80, fuzzing::response_decoder);
}

#[test]
fn request_assembler_corpus() {
    replay("request_assembler", 60, fuzzing::request_assembler);
}

#[test]
fn vocabulary_corpus() {
    replay("vocabulary", 60, fuzzing::vocabulary);
}
