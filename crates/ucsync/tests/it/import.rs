//! `ucsync element import|export` against the running service: CSV and
//! JSON lines, a dry run, bad rows named by line and field, and an export
//! that imports again as it was.

use std::path::Path;

use crate::e2e::{cli, json_of, ok};
use crate::service::Serve;

/// A CM (nothing listens at its port: its init is queued and fails), a
/// messaging system naming it, one with its password in the file.
const CSV: &str = "\
name,kind,host,port,login,password,alternate host,notify_sync,own_logins,tls,cm
cm-a,cm,127.0.0.1,1,ucsync,,127.0.0.2,yes,init craft,,
mm-a,cm-messaging,127.0.0.1,,cn=admin,,,,,true,cm-a
mm-b,messaging,127.0.0.1,3389,cn=admin,given,,,,no,
";

fn names(serve: &Serve, data: &Path) -> Vec<String> {
    let list = json_of(cli(serve, data, &["element", "list", "--output", "json"]));
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn import_checks_adds_and_exports_what_imports_again() {
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("elements.csv");

    // Bad rows: each named with its line and field, nothing added, exit 2.
    let bad = CSV.replace(
        "mm-b,messaging,127.0.0.1,3389",
        "mm-a,messaging,127.0.0.1,0",
    );
    std::fs::write(&file, &bad).unwrap();
    let path = file.to_str().unwrap();
    for dry_run in [true, false] {
        let mut args = vec!["element", "import", path];
        if dry_run {
            args.push("--dry-run");
        }
        let out = cli(&serve, data.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("1 of 3 rows are bad"),
            "{}",
            stderr(&out)
        );
        let table = String::from_utf8_lossy(&out.stdout);
        let row = table
            .lines()
            .find(|l| l.contains("mm-a") && l.contains("error"))
            .unwrap_or_else(|| panic!("{table}"));
        // Line 4 of the file; its port is the first thing refused.
        assert!(
            row.trim_start_matches(['│', ' ']).starts_with("4 "),
            "{row}"
        );
        assert!(row.contains("port"), "{row}");
        assert!(table.contains("nothing was added"), "{table}");
        assert!(names(&serve, data.path()).is_empty());
    }

    // A dry run: every row would be added; nothing is.
    std::fs::write(&file, CSV).unwrap();
    let table = ok(cli(
        &serve,
        data.path(),
        &["element", "import", path, "--dry-run"],
    ));
    assert_eq!(table.matches("would add").count(), 3, "{table}");
    assert!(table.contains("a dry run, nothing was added"), "{table}");
    assert!(names(&serve, data.path()).is_empty());

    let table = ok(cli(&serve, data.path(), &["element", "import", path]));
    assert_eq!(table.matches("added").count(), 4, "{table}");
    assert!(table.contains("init"), "{table}");
    assert!(
        table.contains("added 3 elements; 1 initializing syncs queued"),
        "{table}"
    );
    assert_eq!(names(&serve, data.path()), ["cm-a", "mm-a", "mm-b"]);
    let cm = json_of(cli(
        &serve,
        data.path(),
        &["element", "show", "cm-a", "--output", "json"],
    ));
    assert_eq!(cm["port"], 1);
    assert_eq!(cm["alternate_host"], "127.0.0.2");
    assert_eq!(cm["settings"]["notify_sync"], true);
    let mm = json_of(cli(
        &serve,
        data.path(),
        &["element", "show", "mm-a", "--output", "json"],
    ));
    assert_eq!(mm["port"], 636);
    assert_eq!(mm["settings"]["cm"], "cm-a");

    // Export, then import into another service: the same elements.
    let exported = files.path().join("export.csv");
    ok(cli(
        &serve,
        data.path(),
        &["element", "export", exported.to_str().unwrap()],
    ));
    let csv = std::fs::read_to_string(&exported).unwrap();
    assert!(!csv.contains("password") && !csv.contains("given"), "{csv}");
    let jsonl = ok(cli(
        &serve,
        data.path(),
        &["element", "export", "--format", "jsonl"],
    ));
    assert_eq!(jsonl.lines().count(), 3, "{jsonl}");
    let jsonl_file = files.path().join("export.jsonl");
    std::fs::write(&jsonl_file, &jsonl).unwrap();

    for (format, file) in [("csv", &exported), ("jsonl", &jsonl_file)] {
        let other = tempfile::tempdir().unwrap();
        let second = Serve::start(other.path());
        let table = ok(cli(
            &second,
            other.path(),
            &["element", "import", file.to_str().unwrap()],
        ));
        assert!(table.contains("added 3 elements"), "{format}: {table}");
        let again = ok(cli(
            &second,
            other.path(),
            &["element", "export", "--format", format],
        ));
        let first = ok(cli(
            &serve,
            data.path(),
            &["element", "export", "--format", format],
        ));
        assert_eq!(again, first, "{format}");
    }
}
