//! What an operator sees through the CLI is the truth, and what an operator
//! asks for happens: job logs in tables, exit statuses, schedule times.

use std::process::Output;

use tempfile::TempDir;
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value as OssiValue};
use ucsync_sat::{Password, SatClient, SatConfig};

use crate::cli::Emulator;
use crate::e2e::{cli, json_of, ok};
use crate::service::Serve;

/// An emulated CM and the service, with the CM added as `cm1` (its login
/// `dadmin`, ucsync's own) and its init done.
struct Lab {
    emu: Emulator,
    serve: Serve,
    data: TempDir,
}

impl Lab {
    fn start() -> Lab {
        let emu = Emulator::start(&[]);
        let data = tempfile::tempdir().unwrap();
        let serve = Serve::start(data.path());
        let port = emu.port.to_string();
        let lab = Lab { emu, serve, data };
        ok(lab.cli(&[
            "element",
            "add",
            "cm1",
            "--kind",
            "cm",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--login",
            "dadmin",
            "--wait",
        ]));
        lab
    }

    fn cli(&self, args: &[&str]) -> Output {
        cli(&self.serve, self.data.path(), args)
    }
}

#[tokio::test]
async fn job_show_prints_the_log_and_the_changes_in_its_table() {
    let lab = Lab::start();
    // A change made as ucsync's own login: the incremental skips its row and
    // logs why.
    let mut cfg = SatConfig::new(
        "127.0.0.1",
        lab.emu.port,
        "dadmin",
        Password::new("dadmin01"),
    );
    cfg.sessions = 1;
    let sat = SatClient::connect(cfg).await.unwrap();
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
