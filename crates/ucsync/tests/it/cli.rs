//! `ucsync demo`, `ucsync emulate cm` and `ucsync ossi` as processes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_ucsync");

pub(crate) use ucsync_testkit::process::Emulated;

/// `ucsync emulate cm` on a free port, with `dadmin` as its login and the
/// four lines of its banner; killed when dropped.
pub(crate) fn emulator(args: &[&str]) -> Emulated {
    Emulated::start(
        BIN,
        "cm",
        &[&["--login", "dadmin:dadmin01"], args].concat(),
        4,
    )
}

/// `ucsync ossi` with a known-hosts file of its own, new each time.
fn ossi(port: u16, password: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    ossi_known(port, password, args, &dir.path().join("known_hosts"))
}

fn ossi_known(port: u16, password: &str, args: &[&str], known_hosts: &std::path::Path) -> Output {
    Command::new(BIN)
        .args([
            "ossi",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--login",
            "dadmin",
        ])
        .args(args)
        .env("UCSYNC_CM_PASSWORD", password)
        .env("UCSYNC_KNOWN_HOSTS", known_hosts)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn demo_walks_through_and_succeeds() {
    // Two at once: each has its own data directory and ports.
    let demos: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(BIN)
                .args(["demo", "--exit"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut services = Vec::new();
    for demo in demos {
        let out = demo.wait_with_output().unwrap();
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        for narrated in [
            "job 1 init, trigger element-added, requested by admin",
            "\"cm-west default schedule\": incremental every day",
            "change station 1001 (by craft",
            "ucsync add station 2002: made by 'ucsync', one of ucsync's own logins",
            "ran init: 1801 history rows to apply, more than 1800",
            "the element was upgraded from R018x.00.0.822.0 to R020x.01.0.974.0",
            "it would have deleted 274 objects; 40 stations are still stored",
            "force-init: succeeded, 274 deleted; 0 stations stored now",
            "cm-east station 1001 \"Outside, Change\"",
            "display station 1001 over SAT: named \"Through, Ucsync\"",
            "ucsync chan station 1001: made by 'ucsync'",
            "Done",
        ] {
            assert!(stdout.contains(narrated), "{narrated:?} in {stdout}");
        }
        assert!(!stdout.contains("keeps running"), "--exit: {stdout}");
        // `ucsync demo: the service on URL, with a fresh SQLite database in DIR`
        let first = stdout.lines().next().unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .trim_end_matches(',')
            .to_string();
        let dir = first.rsplit(" in ").next().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{first}");
        assert!(!std::path::Path::new(&dir).exists(), "{dir} is left behind");
        services.push((url, dir));
    }
    assert_ne!(services[0], services[1]);
}

#[test]
fn ossi_prints_json_csv_and_tables() {
    let emu = emulator(&["--stations", "5", "--seed", "3"]);
    assert!(
        emu.banner
            .iter()
            .any(|l| l.starts_with("host key ssh-ed25519 SHA256:"))
    );
    let out = ossi(
        emu.port,
        "dadmin01",
        &["list station", "display station 1003", "--output", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["command"], "list station");
    assert_eq!(json[0]["records"].as_array().unwrap().len(), 5);
    assert_eq!(json[1]["records"][0]["8005ff00"], "1003");

    let out = ossi(
        emu.port,
        "dadmin01",
        &[
            "list station",
            "--field",
            "8005ff00",
            "--field",
            "8003ff00",
            "--output",
            "csv",
        ],
    );
    let csv = text(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "8005ff00,8003ff00");
    assert_eq!(lines.len(), 6);
    assert!(
        lines[1].starts_with("1001,\""),
        "names hold a comma, so they are quoted: {csv}"
    );

    let out = ossi(emu.port, "dadmin01", &["display time"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("1 record(s)"));
}

#[test]
fn ossi_exit_codes_and_messages() {
    let emu = emulator(&["--profile", "empty"]);
    let out = ossi(emu.port, "wrong-password", &["list station"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("refused") && !err.contains("wrong-password"),
        "{err}"
    );

    let out = ossi(emu.port, "dadmin01", &["display station 1001"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Identifier not assigned"));

    let out = ossi(emu.port, "dadmin01", &["list station", "--field", "nothex"]);
    assert_eq!(out.status.code(), Some(2));

    let out = ossi(
        emu.port,
        "dadmin01",
        &["list station", "--host-key", "SHA256:bogus"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("host key"),
        "{}",
        text(&out.stderr)
    );

    // An empty type is zero records, not a failure.
    let out = ossi(emu.port, "dadmin01", &["list station"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("0 record(s)"));
}

/// Without --host-key, a CM's key is added to the known hosts at first use
/// (its fingerprint printed), and a changed key is refused naming both.
#[test]
fn ossi_keeps_known_hosts_and_refuses_a_changed_key() {
    let emu = emulator(&["--profile", "empty"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config/known_hosts");
    let out = ossi_known(emu.port, "dadmin01", &["list station"], &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let kept = std::fs::read_to_string(&file).unwrap();
    let (target, fingerprint) = kept.trim().split_once(' ').unwrap();
    assert_eq!(target, format!("127.0.0.1:{}", emu.port));
    assert!(fingerprint.starts_with("SHA256:"), "{kept}");
    assert!(err.contains(fingerprint) && err.contains("added"), "{err}");

    let out = ossi_known(emu.port, "dadmin01", &["list station"], &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), kept, "added once");

    // The CM's key changed (here: another key in the file).
    let other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    std::fs::write(&file, format!("{target} {other}\n")).unwrap();
    let out = ossi_known(emu.port, "dadmin01", &["list station"], &file);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(other) && err.contains(fingerprint) && err.contains("changed"),
        "{err}"
    );
}

#[test]
fn bad_emulator_flags_are_usage_errors() {
    let out = Command::new(BIN)
        .args(["emulate", "cm", "--profile", "huge"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args([
            "emulate",
            "cm",
            "--listen",
            "127.0.0.1:0",
            "--count",
            "widget=3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("widget"));
}

/// Reads an emulator's banner up to its line of logins; then stops it and
/// returns that line, the banner before it, and what it logged.
fn banner(args: &[&str], env: &[(&str, &str)]) -> (String, Vec<String>, String) {
    let mut child = Command::new(BIN)
        .arg("emulate")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut before = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let logins = loop {
        let line = lines.next().expect("a line of logins").unwrap();
        if line.starts_with("logins: ") || line.starts_with("bind DNs: ") {
            break line;
        }
        before.push(line);
    };
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    (logins, before, text(&out.stderr))
}

#[test]
fn emulators_print_default_logins_with_passwords_and_name_key_algorithms() {
    let quiet = [("UCSYNC_LOG", "warn")];
    let cm = ["cm", "--listen", "127.0.0.1:0", "--profile", "empty"];
    let (logins, before, _) = banner(&cm, &quiet);
    assert!(
        logins.starts_with("logins: dadmin:dadmin01 (the default"),
        "{logins}"
    );
    let keys: Vec<&String> = before
        .iter()
        .filter(|l| l.starts_with("host key "))
        .collect();
    assert_eq!(keys.len(), 2, "{before:?}");
    assert!(
        keys[0].starts_with("host key ssh-ed25519 SHA256:"),
        "{keys:?}"
    );
    assert!(
        keys[1].starts_with("host key ecdsa-sha2-nistp256 SHA256:"),
        "{keys:?}"
    );

    // A password given on the command line is not echoed.
    let mut given = cm.to_vec();
    given.extend(["--login", "craft:craft01"]);
    let (logins, _, _) = banner(&given, &quiet);
    assert_eq!(logins, "logins: craft");

    let ipo = ["ip-office", "--listen", "127.0.0.1:0", "--users", "1"];
    let (logins, _, _) = banner(&ipo, &quiet);
    assert!(
        logins.starts_with("logins: Administrator:Administrator (the default"),
        "{logins}"
    );
    let mm = [
        "messaging",
        "--product",
        "aura",
        "--listen",
        "127.0.0.1:0",
        "--subscribers",
        "1",
    ];
    let (logins, _, _) = banner(&mm, &quiet);
    assert!(logins.starts_with("bind DNs: cn=admin"), "{logins}");
    assert!(logins.contains(":admin01 (the default"), "{logins}");
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let (_, _, log) = banner(
        &["cm", "--listen", "127.0.0.1:0", "--profile", "empty"],
        &[("UCSYNC_LOG", "info")],
    );
    assert!(log.contains("data ready"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}
