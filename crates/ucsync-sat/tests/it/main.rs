//! Integration tests: the client against the emulator over SSH on loopback.

mod client;
mod transcripts;

use std::time::Duration;

use ucsync_core::Password;
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_sat::SatConfig;

pub use ucsync_testkit::emulators::cm as emulator;

pub fn small() -> CmSettings {
    CmSettings {
        logins: vec![
            ("dadmin".into(), "dadmin01".into()),
            ("craft".into(), "craft01".into()),
        ],
        ..CmSettings::default()
    }
}

pub fn config(emu: &CmEmulator, login: &str, password: &str) -> SatConfig {
    let mut c = SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        login,
        Password::new(password),
    );
    c.command_timeout = Duration::from_secs(10);
    c.backoff = Duration::from_millis(20);
    c
}
