//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) through the fuzz entry
//! points on the stable toolchain, so every input that once crashed a target,
//! and every seed, stays a regression test without `cargo fuzz`.

use std::path::PathBuf;

use ucsync_ossi::fuzzing;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Runs `entry` on every file of the target's corpus, which must hold at least `min_files`.
fn replay(target: &str, min_files: usize, entry: fn(&[u8])) {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("corpus directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(
        paths.len() >= min_files,
        "{} holds {} files, expected at least {min_files}",
        dir.display(),
        paths.len()
    );
    for p in &paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{target} panicked on {}", p.display());
    }
}

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
