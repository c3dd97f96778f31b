//! The emulators in-process, each on `127.0.0.1` port 0, and the logins
//! tests use on them.

use tokio::net::TcpListener;
use ucsync_core::Password;
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_emulator::ipo::{IpoEmulator, IpoSettings};
use ucsync_emulator::messaging::{MessagingEmulator, MessagingSettings};
use ucsync_sat::{SatClient, SatConfig};

/// ucsync's own login on a CM or an IP Office: its changes are skipped.
pub const OWN: (&str, &str) = ("ucsync", "ucsync01");
/// A craft login on a CM: someone else's changes.
pub const OUTSIDE: (&str, &str) = ("craft", "craft01");
/// Another administrator of an IP Office.
pub const OTHER: (&str, &str) = ("Administrator", "admin01");
/// The password of every login on the messaging emulator.
pub const LDAP_PASSWORD: &str = "secret01";

/// The bind DN ucsync uses on a directory with this suffix.
pub fn own_dn(suffix: &str) -> String {
    format!("cn=ucsync,{suffix}")
}

/// A directory administrator's bind DN.
pub fn admin_dn(suffix: &str) -> String {
    format!("cn=admin,{suffix}")
}

async fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port")
}

/// A CM with the default forms and [`OWN`] and [`OUTSIDE`] as its logins.
pub fn cm_settings() -> CmSettings {
    CmSettings {
        logins: vec![
            (OWN.0.into(), OWN.1.into()),
            (OUTSIDE.0.into(), OUTSIDE.1.into()),
        ],
        ..CmSettings::default()
    }
}

/// The CM emulator, serving SSH.
pub async fn cm(settings: CmSettings) -> CmEmulator {
    CmEmulator::start(settings, loopback().await)
        .await
        .expect("the CM emulator")
}

/// The IP Office emulator, serving HTTP.
pub async fn ipo(settings: IpoSettings) -> IpoEmulator {
    IpoEmulator::start(settings, loopback().await)
        .await
        .expect("the IP Office emulator")
}

/// The messaging emulator, serving LDAP.
pub async fn messaging(settings: MessagingSettings) -> MessagingEmulator {
    MessagingEmulator::start(settings, loopback().await)
        .await
        .expect("the messaging emulator")
}

/// One SAT session to the CM on `port` as `login`: someone working on the
/// CM beside ucsync.
pub async fn sat(port: u16, login: (&str, &str)) -> SatClient {
    let mut c = SatConfig::new("127.0.0.1", port, login.0, Password::new(login.1));
    c.sessions = 1;
    SatClient::connect(c).await.expect("a SAT session")
}
