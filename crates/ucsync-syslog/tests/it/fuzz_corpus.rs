//! Replays the fuzz corpus (`fuzz/corpus/syslog/`) through the fuzz entry
//! point on the stable toolchain, so every seed and every input that once
//! crashed the target stays a regression test without `cargo fuzz`.

use std::path::PathBuf;

use ucsync_syslog::fuzzing;

#[test]
fn syslog_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/syslog");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("corpus directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 40,
        "{} holds {} files, expected at least 40",
        dir.display(),
        paths.len()
    );
    for p in &paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let outcome = std::panic::catch_unwind(|| fuzzing::syslog(&data));
        assert!(outcome.is_ok(), "syslog panicked on {}", p.display());
    }
}
