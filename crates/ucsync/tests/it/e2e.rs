//! End to end, as an administrator would work: the real `ucsync serve` and
//! `ucsync emulate cm` processes on loopback, and the `ucsync` CLI.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value as OssiValue};

use crate::cli::{BIN, emulator};
use crate::service::Serve;

/// The CLI against the service, finding the admin token in the data directory.
pub(crate) fn cli(serve: &Serve, data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--server", &serve.url, "--data-dir"])
        .arg(data)
        .env_remove("UCSYNC_TOKEN")
        .env_remove("COLUMNS")
        .env("UCSYNC_ELEMENT_PASSWORD", "dadmin01")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `ucsync element add NAME --kind cm` for the emulator on `port` with its
/// `dadmin` login, waiting for the init adding it starts.
pub(crate) fn add_cm(serve: &Serve, data: &Path, name: &str, port: u16) -> Output {
    let port = port.to_string();
    cli(
        serve,
        data,
        &[
            "element",
            "add",
            name,
            "--kind",
            "cm",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--login",
            "dadmin",
            "--wait",
        ],
    )
}

pub(crate) fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub(crate) fn json_of(out: Output) -> Value {
    serde_json::from_str(&ok(out)).expect("--output json prints JSON")
}

#[tokio::test]
async fn an_administrator_adds_a_cm_and_keeps_it_in_sync_with_the_cli() {
    let emu = emulator(&["--login", "craft:craft01"]);
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path());
    let port = emu.port.to_string();

    // Add the CM; its init starts by itself. `--wait` follows it.
    ok(add_cm(&serve, data.path(), "cm1", emu.port));
    let jobs = json_of(cli(
        &serve,
        data.path(),
        &["job", "list", "--element", "cm1", "--output", "json"],
    ));
    let init = &jobs["items"][0];
    assert_eq!(
        (
            init["type"].as_str(),
            init["trigger"].as_str(),
            init["state"].as_str()
        ),
        (Some("init"), Some("element-added"), Some("succeeded")),
        "{jobs}"
    );

    // Its default schedule: an incremental once a day.
    let deadline = Instant::now() + Duration::from_secs(60);
    let schedule = loop {
        let list = json_of(cli(
            &serve,
            data.path(),
            &["schedule", "list", "--output", "json"],
        ));
        if let Some(s) = list["items"].as_array().and_then(|a| a.first()).cloned() {
            break s;
        }
        assert!(Instant::now() < deadline, "no default schedule: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(schedule["default_for"], "cm1", "{schedule}");
    assert_eq!(schedule["sync_type"], "incremental", "{schedule}");

    // Someone changes a station over SAT.
    let sat = ucsync_testkit::emulators::sat(emu.port, ("craft", "craft01")).await;
    sat.run(
        &Request::write(
            "change station 1001",
            &[(station::NAME, OssiValue::Set("Zebulon, Outside".into()))],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    sat.close().await;

    // The incremental pulls it; search finds it.
    ok(cli(
        &serve,
        data.path(),
        &["sync", "incremental", "cm1", "--wait"],
    ));
    let found = json_of(cli(
        &serve,
        data.path(),
        &["search", "Zebulon", "--output", "json"],
    ));
    let hit = &found["items"][0];
    assert_eq!(
        (
            hit["element"].as_str(),
            hit["type"].as_str(),
            hit["key"].as_str()
        ),
        (Some("cm1"), Some("station"), Some("1001")),
        "{found}"
    );

    // A station changed through ucsync is changed on the CM.
    let (status, body) = serve
        .call(
            reqwest::Method::PATCH,
            "/elements/cm1/objects/station/1002",
            Some(json!({"fields": {station::NAME.to_string(): "Yvonne, Via Ucsync"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let known_hosts = tempfile::tempdir().unwrap();
    let on_cm = Command::new(BIN)
        .args([
            "ossi",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--login",
            "craft",
            "--output",
            "json",
        ])
        .args([
            "--field",
            &station::NAME.to_string(),
            "display station 1002",
        ])
        .env("UCSYNC_CM_PASSWORD", "craft01")
        .env("UCSYNC_KNOWN_HOSTS", known_hosts.path().join("known_hosts"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(ok(on_cm).contains("Yvonne, Via Ucsync"));
    // And ucsync's own change is not pulled back as someone else's.
    ok(cli(
        &serve,
        data.path(),
        &["sync", "incremental", "cm1", "--wait"],
    ));
    let last = json_of(cli(
        &serve,
        data.path(),
        &["job", "list", "--element", "cm1", "--output", "json"],
    ));
    assert_eq!(last["items"][0]["counts"]["changed"], 0, "{last}");
}
