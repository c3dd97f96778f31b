//! The one rule for a test that needs something from outside the build (a
//! program, a database server): under `CI=true` a missing one fails the
//! test, since CI installs everything; elsewhere the test says it is
//! skipped, and why, and returns.

use std::fmt::Display;
use std::path::PathBuf;

/// Whether this run is CI's, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `found`, or — `what` missing for the reason in the error — a failure
/// under CI and `None` with a "SKIPPED" line elsewhere.
pub fn require<T, E: Display>(what: &str, found: Result<T, E>) -> Option<T> {
    match found {
        Ok(t) => Some(t),
        Err(e) if in_ci() => panic!("{what} is required under CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {what} is not available here: {e}");
            None
        }
    }
}

/// The program `name`, looked for on `PATH` and in the `sbin` folders where
/// daemons are installed; missing, as [`require`] says (`install` tells
/// how to get it).
pub fn require_tool(name: &str, install: &str) -> Option<PathBuf> {
    require(
        name,
        find_program(name).ok_or_else(|| format!("not installed ({install})")),
    )
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/sbin", "/usr/local/sbin", "/usr/local/libexec"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|f| f.is_file())
}
