//! What reviews keep catching, checked on the whole tree: every source file
//! says what it holds, no file grows past 1,000 lines but the tables named
//! here, every crate takes the workspace's lints and its shared
//! dependencies from the workspace, and the emulator's forms file keeps its
//! rules (`crates/ucsync-emulator/data/check_forms.py`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file below `dirs` (relative to the root), `target` folders left out.
pub fn files_below(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut walk = dirs.to_vec();
    while let Some(p) = walk.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            for e in std::fs::read_dir(&p).expect("directory") {
                walk.push(e.expect("entry").path());
            }
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The crates' folders.
fn crates() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("crates")
        .map(|e| e.expect("crate").path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    out.sort();
    out
}

/// Every Rust source of the crates and the fuzz targets, with its path
/// from the root.
fn rust_sources() -> Vec<(String, String)> {
    let mut dirs = vec![root().join("fuzz/fuzz_targets")];
    for krate in crates() {
        for dir in ["src", "tests", "benches", "examples"] {
            dirs.push(krate.join(dir));
        }
    }
    let root = root();
    files_below(&dirs)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let name = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
            let text = std::fs::read_to_string(&p).expect("a source file");
            (name, text)
        })
        .collect()
}

/// Files allowed past 1,000 lines: tables of data or of test cases.
const LONG_TABLES: &[&str] = &[];

#[test]
fn every_source_file_says_what_it_holds() {
    let sources = rust_sources();
    assert!(sources.len() > 150, "found only {} files", sources.len());
    let silent: Vec<&String> = sources
        .iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        silent.is_empty(),
        "these files begin without a `//!` line saying what they hold:\n{silent:#?}"
    );
}

#[test]
fn no_source_file_passes_a_thousand_lines_but_the_tables() {
    let long: Vec<String> = rust_sources()
        .iter()
        .filter(|(name, _)| !LONG_TABLES.contains(&name.as_str()))
        .filter(|(_, text)| text.lines().count() > 1_000)
        .map(|(name, text)| format!("{name}: {} lines", text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "split these files by topic (or, for a table of data or test cases, name it in LONG_TABLES):\n{}",
        long.join("\n")
    );
}

#[test]
fn every_crate_takes_the_workspace_lints_and_its_shared_dependencies_from_it() {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut own: Vec<String> = Vec::new();
    for krate in crates() {
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(krate.join("Cargo.toml")).expect("Cargo.toml");
        let manifest: toml::Table = text.parse().expect("a manifest");
        let lints = manifest.get("lints").and_then(|l| l.get("workspace"));
        assert_eq!(
            lints.and_then(toml::Value::as_bool),
            Some(true),
            "{name} must have `[lints] workspace = true`"
        );
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = manifest.get(section).and_then(toml::Value::as_table) else {
                continue;
            };
            for (dep, spec) in deps {
                users
                    .entry(dep.clone())
                    .or_default()
                    .push(format!("{name} ({section})"));
                let inherited = spec
                    .get("workspace")
                    .and_then(toml::Value::as_bool)
                    .unwrap_or(false);
                if !inherited {
                    own.push(format!("{name}: {dep}"));
                }
            }
        }
    }
    let shared_not_inherited: Vec<&String> = own
        .iter()
        .filter(|entry| {
            let dep = entry.split_once(": ").map_or("", |(_, d)| d);
            users.get(dep).is_some_and(|u| {
                let mut crates: Vec<&str> = u
                    .iter()
                    .map(|x| x.split_once(' ').map_or(x.as_str(), |(c, _)| c))
                    .collect();
                crates.dedup();
                crates.len() > 1
            })
        })
        .collect();
    assert!(
        shared_not_inherited.is_empty(),
        "a dependency of several crates is declared once, in [workspace.dependencies], and taken with `workspace = true`:\n{shared_not_inherited:#?}"
    );
}

#[test]
fn the_emulators_forms_file_keeps_its_rules() {
    if !ucsync_testkit::require_tool("python3", &["-c", "import tomllib"]) {
        return;
    }
    let script = root().join("crates/ucsync-emulator/data/check_forms.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .output()
        .expect("python3 runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}:\n{said}", script.display());
    assert!(said.starts_with("OK "), "{said}");
}
