//! What the codecs' fuzzing tests share: property runs on a fixed seed (the
//! same cases on every machine and every run, so a failure is reproducible
//! from the test's name alone), and replaying a fuzz target's corpus
//! (`fuzz/corpus/<target>/`) through its entry point on the stable
//! toolchain, so every input that once crashed a target stays a test.

use std::path::{Path, PathBuf};

use proptest::prelude::ProptestConfig;
use proptest::strategy::Strategy;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Runs `property` on `cases` values of `strategy`, drawn from `seed` with
/// the test's own number mixed in (so tests do not all draw the same
/// cases); a failure panics with the minimal failing input.
pub fn check<S: Strategy>(
    seed: [u8; 32],
    test: u8,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut seed = seed;
    seed[31] ^= test;
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    if let Err(e) = runner.run(&strategy, property) {
        panic!("{e}");
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Runs `entry` on every file of the target's corpus, which must hold at
/// least `min_files`; any panic fails the test, naming the file.
pub fn replay(target: &str, min_files: usize, entry: fn(&[u8])) {
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
