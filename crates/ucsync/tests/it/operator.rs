//! What an operator sees through the CLI is the truth, and what an operator
//! asks for happens: job logs in tables, exit statuses, schedule times.

use std::process::{Command, Output, Stdio};

use tempfile::TempDir;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value as OssiValue};

use crate::cli::{BIN, Emulated, emulator};
use crate::e2e::{add_cm, cli, json_of, ok};
use crate::service::Serve;

/// An emulated CM and the service, with the CM added as `cm1` (its login
/// `dadmin`, ucsync's own) and its init done.
pub(crate) struct Lab {
    pub(crate) emu: Emulated,
    pub(crate) serve: Serve,
    pub(crate) data: TempDir,
}

impl Lab {
    pub(crate) fn start() -> Lab {
        let emu = emulator(&[]);
        let data = tempfile::tempdir().unwrap();
        let serve = Serve::start(data.path());
        ok(add_cm(&serve, data.path(), "cm1", emu.port));
        Lab { emu, serve, data }
    }

    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        cli(&self.serve, self.data.path(), args)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn job_show_prints_the_log_and_the_changes_in_its_table() {
    let lab = Lab::start();
    // A change made as ucsync's own login: the incremental skips its row and
    // logs why.
    let sat = ucsync_testkit::emulators::sat(lab.emu.port, ("dadmin", "dadmin01")).await;
    sat.run(
        &Request::write(
            "change station 1001",
            &[(station::NAME, OssiValue::Set("Own, Change".into()))],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    sat.close().await;
    ok(lab.cli(&["sync", "incremental", "cm1", "--wait"]));
    let jobs = json_of(lab.cli(&["job", "list", "--output", "json"]));
    let id = jobs["items"][0]["id"].as_i64().unwrap().to_string();
    let job = json_of(lab.cli(&["job", "show", &id, "--output", "json"]));
    let log: Vec<&str> = job["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(log.iter().any(|l| l.starts_with("skipped ")), "{job}");

    let table = ok(lab.cli(&["job", "show", &id]));
    assert!(table.contains("LOG"), "{table}");
    for line in &log {
        assert!(table.contains(line), "{line:?} missing from:\n{table}");
    }

    // And an init's changes are listed under its log.
    let init = jobs["items"][1]["id"].as_i64().unwrap().to_string();
    let table = ok(lab.cli(&["job", "show", &init, "--changes", "3"]));
    assert!(table.contains("┆ add "), "{table}");
    assert!(
        table.contains("changes; all of them: ucsync job changes"),
        "{table}"
    );
}

#[tokio::test]
async fn exit_statuses_follow_one_rule() {
    let lab = Lab::start();
    let viewer = ok(lab.cli(&["token", "create", "--role", "read-only", "--name", "viewer"]));
    let viewer = viewer.trim();
    let as_viewer = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--server", &lab.serve.url])
            .env("UCSYNC_TOKEN", viewer)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // A read-only token reads ...
    ok(as_viewer(&["element", "list"]));
    // ... and is refused a sync: the operation was refused, exit 1.
    let out = as_viewer(&["sync", "incremental", "cm1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    // Something that is not there, and a conflict: 1.
    let out = lab.cli(&["job", "show", "99999"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = lab.cli(&[
        "element",
        "add",
        "cm1",
        "--kind",
        "cm",
        "--host",
        "127.0.0.1",
        "--login",
        "dadmin",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Bad usage and values that do not parse: 2.
    for args in [
        &["job", "list", "--no-such-flag"][..],
        &["job", "show", "twelve"],
        &[
            "schedule",
            "add",
            "--all",
            "--type",
            "init",
            "--first-run",
            "soon",
        ],
    ] {
        let out = lab.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    // A setting that does not parse is bad input too, not a failed service.
    let out = Command::new(BIN)
        .args(["serve", "--time-zone", "Mars/Olympus", "--data-dir"])
        .arg(lab.data.path().join("unused"))
        .env("UCSYNC_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("time_zone"), "{}", stderr(&out));
}

#[tokio::test]
async fn listings_fit_the_terminal_and_csv_and_json_keep_every_cell() {
    let lab = Lab::start();
    let narrow = Command::new(BIN)
        .args(["job", "list", "--server", &lab.serve.url, "--data-dir"])
        .arg(lab.data.path())
        .env_remove("UCSYNC_TOKEN")
        .env("COLUMNS", "50")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let table = ok(narrow);
    for line in table.lines() {
        assert!(line.chars().count() <= 50, "{line:?} in\n{table}");
    }
    assert!(table.contains('…'), "{table}");

    let csv = ok(lab.cli(&["job", "list", "--output", "csv"]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("ID,ELEMENT,TYPE,TRIGGER,BY,STATE,PROGRESS,CREATED,FINISHED")
    );
    let row = lines.next().expect("the init's row");
    assert!(row.contains(",cm1,init,element-added,"), "{row}");
    let json = json_of(lab.cli(&["job", "list", "--output", "json"]));
    assert_eq!(json["items"][0]["trigger"], "element-added", "{json}");
}

#[tokio::test]
async fn schedules_speak_in_their_zone_and_flags_and_ask_before_removal() {
    let lab = Lab::start();
    // A local first run, read in --time-zone.
    let added = json_of(lab.cli(&[
        "schedule",
        "add",
        "--element",
        "cm1",
        "--type",
        "incremental",
        "--first-run",
        "2030-01-15T03:00",
        "--time-zone",
        "Europe/Berlin",
        "--every",
        "1 day",
        "--output",
        "json",
    ]));
    assert_eq!(added["first_run"], "2030-01-15T02:00:00Z", "{added}");
    let id = added["id"].as_i64().unwrap().to_string();
    // Shown in that zone, which is named.
    let shown = ok(lab.cli(&["schedule", "show", &id]));
    assert!(shown.contains("2030-01-15 03:00:00 CET"), "{shown}");
    assert!(shown.contains("Europe/Berlin"), "{shown}");
    let listed = ok(lab.cli(&["schedule", "list"]));
    assert!(listed.contains("03:00:00 CET"), "{listed}");

    // A value the service refuses is named by its flag.
    let out = lab.cli(&[
        "schedule",
        "add",
        "--all",
        "--type",
        "init",
        "--first-run",
        "2030-01-15T03:00:00Z",
        "--cron",
        "at three",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--cron \"at three\""),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("repeat.cron"), "{}", stderr(&out));

    // Removal asks; with nobody to ask, it needs --yes and does nothing.
    let out = lab.cli(&["schedule", "remove", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    ok(lab.cli(&["schedule", "show", &id]));
    ok(lab.cli(&["schedule", "remove", &id, "--yes"]));
    assert_eq!(lab.cli(&["schedule", "show", &id]).status.code(), Some(1));

    // The default schedule's name says what it is, whatever its rule becomes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let default = loop {
        let all = json_of(lab.cli(&["schedule", "list", "--output", "json"]));
        let found = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["default_for"] == "cm1")
            .cloned();
        if let Some(d) = found {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no default schedule: {all}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(default["name"], "cm1 default schedule", "{default}");
}
