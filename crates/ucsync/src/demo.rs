//! `ucsync demo`: a real session with an emulated CM, narrated. Everything it
//! prints was read back over SAT/OSSI; an outcome that differs from the
//! narration ends the demo with a failure.

use anyhow::{anyhow, ensure};
use clap::Args;
use tokio::net::TcpListener;
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_ossi::wellknown::{history, station};
use ucsync_ossi::{FieldId, Request, Value};
use ucsync_sat::{Password, SatClient, SatConfig};

use crate::Exit;
use crate::output;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// End after the walkthrough (it always does until the service exists).
    #[arg(long)]
    exit: bool,
}

const STATION_COLUMNS: [(FieldId, &str); 6] = [
    (station::EXTENSION, "Extension"),
    (station::PORT, "Port"),
    (station::NAME, "Name"),
    (station::TYPE, "Type"),
    (station::COR, "COR"),
    (station::COS, "COS"),
];
const HISTORY_COLUMNS: [(FieldId, &str); 7] = [
    (history::DATE, "Date"),
    (history::TIME, "Time"),
    (history::PORT, "Port"),
    (history::LOGIN, "Login"),
    (history::ACTION, "Actn"),
    (history::OBJECT, "Object"),
    (history::QUALIFIER, "Qualifier"),
];

const OWN: (&str, &str) = ("ucsync", "ucsync-demo-1");
const OUTSIDE: (&str, &str) = ("craft", "craft-demo-1");

pub async fn run(_args: DemoArgs) -> Result<(), Exit> {
    Ok(walkthrough().await?)
}

async fn walkthrough() -> anyhow::Result<()> {
    let settings = CmSettings {
        name: "demo-cm".into(),
        logins: vec![
            (OWN.0.into(), OWN.1.into()),
            (OUTSIDE.0.into(), OUTSIDE.1.into()),
        ],
        ..CmSettings::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let emu = CmEmulator::start(settings, listener).await?;
    println!(
        "1. An emulated Communication Manager '{}' listens for SSH on {}",
        emu.name(),
        emu.addr()
    );

    let connect = |login: (&str, &str)| {
        let mut c = SatConfig::new(
            "127.0.0.1",
            emu.addr().port(),
            login.0,
            Password::new(login.1),
        );
        c.sessions = 1;
        c
    };
    let own = SatClient::connect(connect(OWN)).await?;
    println!(
        "2. Logged in over SSH as '{}', OSSI mode; host key {}",
        OWN.0,
        own.fingerprint()
    );

    let list = own.command("list station").await?;
    println!(
        "3. list station: {} stations; the first five:",
        list.records.len()
    );
    println!(
        "{}",
        output::named_table(&list.records[..list.records.len().min(5)], &STATION_COLUMNS)
    );
    ensure!(!list.records.is_empty(), "the CM listed no stations");
    let ext = list.records[0]
        .get(station::EXTENSION)
        .unwrap_or_default()
        .to_string();

    let before = own.command("list history").await?;
    println!(
        "4. list history: {} rows, newest first:",
        before.records.len()
    );
    println!(
        "{}",
        output::named_table(
            &before.records[..before.records.len().min(5)],
            &HISTORY_COLUMNS
        )
    );

    let name = "Outside, Change";
    let outside = SatClient::connect(connect(OUTSIDE)).await?;
    outside
        .run(&Request::write(
            &format!("cha stat {ext}"),
            &[(station::NAME, Value::Set(name.into()))],
        )?)
        .await?;
    outside.close().await;
    println!(
        "5. As the outside login '{}', ran: cha stat {ext} (name \"{name}\")",
        OUTSIDE.0
    );

    let shown = own.command(&format!("display station {ext}")).await?;
    println!(
        "6. display station {ext}, read back ({} fields; some shown):",
        shown.records.first().map_or(0, |r| r.len())
    );
    println!("{}", output::named_table(&shown.records, &STATION_COLUMNS));
    let got = shown
        .records
        .first()
        .and_then(|r| r.get(station::NAME))
        .unwrap_or_default();
    ensure!(
        got == name,
        "the station's name reads \"{got}\", not \"{name}\""
    );

    let after = own.command("list history").await?;
    let newest = after
        .records
        .iter()
        .find(|r| r.get(history::ACTION) != Some("logf") && r.get(history::ACTION) != Some("logn"))
        .ok_or_else(|| anyhow!("the history shows no data command"))?;
    println!("7. list history now shows the change, by its login, on the CM's clock:");
    println!(
        "{}",
        output::named_table(std::slice::from_ref(newest), &HISTORY_COLUMNS)
    );
    ensure!(
        newest.get(history::LOGIN) == Some(OUTSIDE.0)
            && newest.get(history::QUALIFIER) == Some(ext.as_str())
            && newest.get(history::OBJECT) == Some("stat"),
        "the newest history row is not the outside change"
    );
    own.close().await;
    emu.shutdown().await?;
    println!("Done: every value above was read back from the CM over SAT/OSSI.");
    Ok(())
}
