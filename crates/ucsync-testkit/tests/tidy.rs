//! What reviews of the workspace keep catching, checked on every test run:
//! every Rust file says what it is (`//!`), no source file grows past 1,000
//! lines but the tables listed here, every crate takes the workspace's lints
//! and the dependencies it shares with another crate from the workspace, no
//! test decides on its own whether a missing tool skips it, and the
//! emulator's form data keeps its schema (`data/check_forms.py`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files allowed past [`MAX_LINES`]: data tables and test tables only, each
/// with the reason. Empty today.
const LONG_TABLES: &[(&str, &str)] = &[];

const MAX_LINES: usize = 1000;

/// The workspace's root, two folders above this crate.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// Every file under `dir` whose name ends with `suffix`, build output and
/// version control left out, relative to the root, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a readable folder") {
            let path = entry.expect("a folder entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | ".git" | "node_modules") {
                    folders.push(path);
                }
            } else if name.ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn rust_files() -> Vec<(String, String)> {
    let root = root();
    ["crates", "fuzz"]
        .iter()
        .flat_map(|d| files(&root.join(d), ".rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("a readable source file");
            let rel = p.strip_prefix(&root).expect("under the root");
            (rel.display().to_string(), text)
        })
        .collect()
}

#[test]
fn every_rust_file_says_what_it_is() {
    let bare: Vec<String> = rust_files()
        .into_iter()
        .filter(|(_, text)| {
            !text
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("#!"))
                .is_some_and(|l| l.starts_with("//!"))
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        bare.is_empty(),
        "files without a `//!` first line: {bare:#?}"
    );
}

#[test]
fn no_source_file_is_over_a_thousand_lines_but_the_tables() {
    let long: Vec<String> = rust_files()
        .into_iter()
        .filter(|(path, text)| {
            text.lines().count() > MAX_LINES && !LONG_TABLES.iter().any(|(p, _)| p == path)
        })
        .map(|(path, text)| format!("{path}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}

#[test]
fn only_the_test_kit_reads_ci() {
    let own_rule: Vec<String> = rust_files()
        .into_iter()
        .filter(|(path, text)| {
            path != "crates/ucsync-testkit/src/tool.rs" && text.contains(concat!("var(", "\"CI\")"))
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        own_rule.is_empty(),
        "tests with their own CI rule (use ucsync_testkit::require): {own_rule:#?}"
    );
}

/// Each member crate's manifest, parsed, by path.
fn manifests() -> BTreeMap<String, toml::Table> {
    let root = root();
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("crates")).expect("the crates folder") {
        let path = entry.expect("a folder entry").path().join("Cargo.toml");
        let text = std::fs::read_to_string(&path).expect("a manifest");
        let rel = path.strip_prefix(&root).expect("under the root");
        found.insert(
            rel.display().to_string(),
            text.parse().expect("a manifest that parses"),
        );
    }
    found
}

#[test]
fn every_crate_takes_the_workspace_lints() {
    let without: Vec<String> = manifests()
        .into_iter()
        .filter(|(_, m)| {
            m.get("lints")
                .and_then(|l| l.get("workspace"))
                .and_then(|w| w.as_bool())
                != Some(true)
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        without.is_empty(),
        "crates without `[lints] workspace = true`: {without:#?}"
    );
}

#[test]
fn shared_dependencies_come_from_the_workspace() {
    const SECTIONS: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    // Dependency name → the manifests naming it, and whether each takes it
    // from the workspace.
    let mut uses: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for (path, manifest) in manifests() {
        for section in SECTIONS {
            let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for (name, spec) in deps {
                let inherited = spec
                    .get("workspace")
                    .and_then(|w| w.as_bool())
                    .unwrap_or(false);
                uses.entry(name.clone())
                    .or_default()
                    .push((format!("{path} [{section}]"), inherited));
            }
        }
    }
    let own: Vec<String> = uses
        .into_iter()
        .filter(|(_, users)| {
            let crates: std::collections::BTreeSet<&str> = users
                .iter()
                .map(|(p, _)| p.split(" [").next().unwrap_or(p))
                .collect();
            crates.len() > 1
        })
        .flat_map(|(name, users)| {
            users
                .into_iter()
                .filter(|(_, inherited)| !inherited)
                .map(move |(path, _)| format!("{name} in {path}"))
        })
        .collect();
    assert!(
        own.is_empty(),
        "dependencies shared by crates but not taken from [workspace.dependencies]: {own:#?}"
    );
}

#[test]
fn the_emulators_forms_keep_their_schema() {
    let Some(python) = ucsync_testkit::require_tool("python3", "apt-get install python3") else {
        return;
    };
    let script = root().join("crates/ucsync-emulator/data/check_forms.py");
    let out = Command::new(python)
        .arg(&script)
        .output()
        .expect("check_forms.py runs");
    assert!(
        out.status.success(),
        "check_forms.py found violations:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("OK"),
        "check_forms.py did not say OK: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
