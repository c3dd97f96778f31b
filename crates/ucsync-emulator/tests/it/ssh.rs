//! The emulator over real SSH: stock OpenSSH, pipelined and hostile input,
//! session limits, host keys that survive restarts.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ucsync_emulator::cm::CmSettings;

use crate::commands::start;

struct AnyKey;

impl client::Handler for AnyKey {
    type Error = russh::Error;
    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// A raw SAT shell: bytes in, bytes out.
struct Shell {
    rd: russh::ChannelReadHalf,
    wr: russh::ChannelWriteHalf<client::Msg>,
    _h: client::Handle<AnyKey>,
}

impl Shell {
    async fn open(
        addr: std::net::SocketAddr,
        login: &str,
        password: &str,
    ) -> Result<Shell, String> {
        let mut h = client::connect(Arc::new(client::Config::default()), addr, AnyKey)
            .await
            .map_err(|e| e.to_string())?;
        if !h
            .authenticate_password(login, password)
            .await
            .map_err(|e| e.to_string())?
            .success()
        {
            return Err("refused".into());
        }
        let ch = h.channel_open_session().await.map_err(|e| e.to_string())?;
        ch.request_pty(false, "vt100", 80, 24, 0, 0, &[])
            .await
            .map_err(|e| e.to_string())?;
        ch.request_shell(false).await.map_err(|e| e.to_string())?;
        let (rd, wr) = ch.split();
        Ok(Shell { rd, wr, _h: h })
    }

    async fn send(&self, bytes: &[u8]) {
        self.wr.data(bytes).await.unwrap();
    }

    /// Reads until `needle` has arrived (or the channel closes), within 10 s.
    async fn read_until(&mut self, needle: &str) -> String {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !String::from_utf8_lossy(&out).contains(needle) {
            match tokio::time::timeout_at(deadline, self.rd.wait()).await {
                Ok(Some(russh::ChannelMsg::Data { data })) => out.extend_from_slice(&data),
                Ok(Some(russh::ChannelMsg::Eof | russh::ChannelMsg::Close)) | Ok(None) => break,
                Ok(Some(_)) => {}
                Err(_) => panic!(
                    "timed out waiting for {needle:?}; got {:?}",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn settings() -> CmSettings {
    CmSettings {
        logins: vec![
            ("dadmin".into(), "dadmin01".into()),
            ("init".into(), "init01".into()),
        ],
        ..CmSettings::default()
    }
}

/// Logs in with the stock OpenSSH client, password typed at its prompt (by an
/// askpass helper), and works in OSSI mode with all input written at once.
async fn openssh(method: &str) {
    let Some(ssh) =
        ucsync_testkit::require_tool("ssh", "the OpenSSH client: apt-get install openssh-client")
    else {
        return;
    };
    let emu = start(settings()).await;
    let dir = tempfile::tempdir().unwrap();
    let askpass = dir.path().join("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho dadmin01\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut child = tokio::process::Command::new(ssh)
        .args(["-tt", "-p", &emu.addr().port().to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
        ])
        .args([
            "-o",
            &format!("PreferredAuthentications={method}"),
            "-o",
            "NumberOfPasswordPrompts=1",
            "-F",
            "/dev/null",
        ])
        .arg("dadmin@127.0.0.1")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ossi\nclist station\nf8005ff00\t8003ff00\nt\ncdisplay station 1001\nt\nclogoff\nt\ny\n").await.unwrap();
    let mut out = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(20),
        child.stdout.take().unwrap().read_to_string(&mut out),
    )
    .await;
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err).await;
    assert!(
        read.is_ok(),
        "ssh did not finish; output so far: {out:?} {err:?}"
    );
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(
        lines.contains(&ucsync_ossi::TERMINAL_PROMPT),
        "{out:?} {err:?}"
    );
    assert!(lines.contains(&"t"), "{out:?}");
    assert!(lines.contains(&"clist station"));
    assert!(lines.contains(&"f8005ff00\t8003ff00"));
    assert!(
        lines.iter().filter(|l| l.starts_with("d1")).count() >= 300,
        "{out:?}"
    );
    assert!(lines.contains(&"cdisplay station 1001"));
    assert!(lines.contains(&ucsync_ossi::LOGOFF_PROMPT));
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "ssh exit {status:?}: {err}");
}

#[tokio::test]
async fn stock_openssh_with_keyboard_interactive() {
    openssh("keyboard-interactive").await;
}

#[tokio::test]
async fn stock_openssh_with_password() {
    openssh("password").await;
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let emu = start(settings()).await;
    assert_eq!(
        Shell::open(emu.addr(), "dadmin", "nope")
            .await
            .err()
            .as_deref(),
        Some("refused")
    );
    assert_eq!(
        Shell::open(emu.addr(), "nobody", "dadmin01")
            .await
            .err()
            .as_deref(),
        Some("refused")
    );
}

#[tokio::test]
async fn hostile_input_gets_answers_not_crashes() {
    let emu = start(settings()).await;
    let mut s = Shell::open(emu.addr(), "dadmin", "dadmin01").await.unwrap();
    s.read_until("[513]").await;
    s.send(b"ossi\n").await;
    s.read_until("\nt\n").await;
    // Binary junk, a half line finished later, an unknown command, a bad
    // field id, an over-long line, then a good command.
    s.send(b"\x00\xff\xfe\x1b[2J junk\n").await;
    s.send(b"clist sta").await;
    s.send(b"tion 1001 count 1\nt\n").await;
    let out = s.read_until("\nt\n").await;
    assert!(
        out.contains("clist station 1001 count 1\nf8005ff00"),
        "{out:?}"
    );
    s.send(b"cfrobnicate\nt\ncdisplay station 1001\nfzzzz\nt\n")
        .await;
    let out = s.read_until("is not 8 hex digits\nt\n").await;
    assert!(out.contains("e1 00000000 2a07"), "{out:?}");
    let mut long = vec![b'd'; 100_000];
    long.push(b'\n');
    s.send(b"cchange station 1001\nf8003ff00\n").await;
    s.send(&long).await;
    s.send(b"t\ncdisplay station 1002\nf8005ff00\nt\n").await;
    let out = s.read_until("d1002\n").await;
    assert!(
        out.contains("e1 00000000 2a0a"),
        "the over-long line is refused: {out:?}"
    );
    assert_ne!(
        emu.cm()
            .object("station", Some("1001"))
            .unwrap()
            .iter()
            .find(|(f, _)| f.to_string() == "8003ff00")
            .unwrap()
            .1
            .len(),
        99_999
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_blocks_only_itself() {
    let emu = start(settings()).await;
    let s = Shell::open(emu.addr(), "dadmin", "dadmin01").await.unwrap();
    s.send(b"ossi\n").await;
    let flood = "clist station\nt\n".repeat(2000);
    // Never read: its window fills and the emulator waits on it alone. Held
    // open until the test ends.
    tokio::spawn(async move {
        let _ = s.wr.data(flood.as_bytes()).await;
        std::future::pending::<()>().await;
        drop(s);
    });
    // The emulator is serving the flood (whose answers, megabytes of them,
    // can never all be sent) when the other session starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while emu.cm().command_count("list station", true) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flood never reached the emulator"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut other = Shell::open(emu.addr(), "init", "init01").await.unwrap();
    other.send(b"ossi4\ncdisplay time\nt\n").await;
    let out = other.read_until("cdisplay time\nf").await;
    assert!(out.contains("cdisplay time"));
}

#[tokio::test]
async fn session_limit_answers_login_resources_unavailable() {
    let emu = start(CmSettings {
        max_sessions: 2,
        ..settings()
    })
    .await;
    let mut a = Shell::open(emu.addr(), "dadmin", "dadmin01").await.unwrap();
    let mut b = Shell::open(emu.addr(), "init", "init01").await.unwrap();
    a.read_until("[513]").await;
    b.read_until("[513]").await;
    let mut c = Shell::open(emu.addr(), "dadmin", "dadmin01").await.unwrap();
    let out = c.read_until(ucsync_ossi::RESOURCES_UNAVAILABLE).await;
    assert!(out.contains(ucsync_ossi::RESOURCES_UNAVAILABLE));
    // A clean logoff frees the port.
    a.send(b"ossi\nclogoff\nt\ny\n").await;
    a.read_until(ucsync_ossi::LOGOFF_PROMPT).await;
    // The emulator frees the port before it closes the channel.
    a.read_until("never comes: the channel closes").await;
    let mut d = Shell::open(emu.addr(), "dadmin", "dadmin01").await.unwrap();
    assert!(
        d.read_until("[513]")
            .await
            .contains(ucsync_ossi::TERMINAL_PROMPT)
    );
}

#[tokio::test]
async fn host_key_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("host_key");
    let emu = start(CmSettings {
        host_key: Some(key.clone()),
        ..settings()
    })
    .await;
    let first = emu.fingerprints().to_vec();
    emu.shutdown().await.unwrap();
    assert!(key.exists() && dir.path().join("host_key.ecdsa").exists());
    let emu = start(CmSettings {
        host_key: Some(key),
        ..settings()
    })
    .await;
    assert_eq!(emu.fingerprints(), first.as_slice());
    assert!(first[0].starts_with("SHA256:"));
}
