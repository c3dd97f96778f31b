//! No password or security code ever reaches a log, at any level.
//!
//! A test binary of its own: it installs the process-wide subscriber, so no
//! other test's threads can change what the log callsites are interested in.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ucsync_ossi::wellknown::station;
use ucsync_ossi::{Request, Value};
use ucsync_sat::{SatClient, SatError};

use ucsync_core::Password;
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_sat::SatConfig;

async fn emulator() -> CmEmulator {
    let settings = CmSettings {
        logins: vec![("dadmin".into(), "dadmin01".into())],
        ..CmSettings::default()
    };
    ucsync_testkit::emulators::cm(settings).await
}

fn config(emu: &CmEmulator, password: &str) -> SatConfig {
    SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        "dadmin",
        Password::new(password),
    )
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_password_or_security_code_in_any_log() {
    tracing_log::LogTracer::init().unwrap();
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other_code = rt.block_on(async {
        let emu = emulator().await;
        let err = SatClient::connect(config(&emu, "Wr0ng-Secret"))
            .await
            .unwrap_err();
        assert!(matches!(err, SatError::AuthFailed { .. }));
        let client = SatClient::connect(config(&emu, "dadmin01")).await.unwrap();
        client
            .run(
                &Request::write(
                    "change station 1001",
                    &[(station::SECURITY_CODE, Value::Set("86421357".into()))],
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let shown = client.command("display station 1001").await.unwrap();
        assert_eq!(
            shown.records[0].get(station::SECURITY_CODE),
            Some("86421357")
        );
        let code_of = |k: &str| {
            emu.cm()
                .object("station", Some(k))
                .unwrap()
                .into_iter()
                .find(|(f, _)| *f == station::SECURITY_CODE)
                .unwrap()
                .1
        };
        let other = emu
            .cm()
            .keys("station")
            .into_iter()
            .find(|k| k != "1001" && !code_of(k).is_empty())
            .unwrap();
        let other_code = code_of(&other);
        client
            .command(&format!("display station {other}"))
            .await
            .unwrap();
        client.close().await;
        emu.shutdown().await.unwrap();
        other_code
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("SAT login refused") && logs.contains("SAT session ready"),
        "the logs were captured: {logs}"
    );
    for secret in ["Wr0ng-Secret", "dadmin01", "86421357", other_code.as_str()] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
}
