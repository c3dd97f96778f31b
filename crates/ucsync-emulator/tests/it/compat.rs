//! Clients in the field: paramiko and libssh2 1.10 (through Python scripts in
//! `tests/compat/`) log in to the emulator and work in OSSI mode.

use std::path::PathBuf;
use std::time::Duration;

use ucsync_emulator::cm::CmSettings;

use crate::commands::start;

/// Runs a compat script against a fresh emulator; `None` when the client is
/// not installed here (never under CI, where `.ci/run` installs it).
async fn run_script(script: &str, probe: &str) -> Option<(String, String)> {
    let has = tokio::process::Command::new("python3")
        .args(["-c", probe])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    let has = if has {
        Ok(())
    } else {
        Err(format!("not installed here ({probe})"))
    };
    ucsync_testkit::require(&format!("python3 with the client for {script}"), has)?;
    let emu = start(CmSettings {
        logins: vec![("dadmin".into(), "dadmin01".into())],
        ..CmSettings::default()
    })
    .await;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compat")
        .join(script);
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("python3")
            .arg(&path)
            .args([
                "127.0.0.1",
                &emu.addr().port().to_string(),
                "dadmin",
                "dadmin01",
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the client finished")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{script}: {stdout}\n{stderr}");
    Some((stdout, stderr))
}

fn check_session(out: &str) {
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    let at = lines
        .iter()
        .position(|l| *l == "clist station count 2")
        .expect("the echo");
    assert_eq!(
        lines[at..at + 6],
        [
            "clist station count 2",
            "f8005ff00\t8003ff00",
            lines[at + 2],
            "n",
            lines[at + 4],
            "t"
        ]
    );
    assert!(
        lines[at + 2].starts_with("d1001\t") && lines[at + 4].starts_with("d1002\t"),
        "{out}"
    );
    assert!(
        lines.contains(&ucsync_ossi::TERMINAL_PROMPT)
            && lines.contains(&"t")
            && lines.contains(&ucsync_ossi::LOGOFF_PROMPT)
    );
}

#[tokio::test]
async fn paramiko_client() {
    if let Some((out, err)) = run_script("paramiko_sat.py", "import paramiko").await {
        check_session(&out);
        // The login banner reports the CM's software version.
        assert!(
            err.contains("# banner Communication Manager R020x.01.0.974.0"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn libssh2_1_10_client() {
    let probe = "import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library('ssh2') or 'libssh2.so.1')";
    if let Some((out, err)) = run_script("libssh2_sat.py", probe).await {
        check_session(&out);
        assert!(err.contains("# libssh2 1."), "{err}");
    }
}
