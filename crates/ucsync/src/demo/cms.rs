//! The demo's emulated CMs and the SAT sessions that change them from
//! outside ucsync — directly over SSH, as an administrator or a craft
//! technician would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use ucsync_core::Password;
use ucsync_emulator::cm::{CmEmulator, CmSettings};
use ucsync_ossi::wellknown::station;
use ucsync_ossi::{FieldId, Request, Value};
use ucsync_sat::{SatClient, SatConfig};

/// ucsync's own login on every CM: the element's login.
pub(super) const OWN: (&str, &str) = ("ucsync", "ucsync-demo-1");
/// A login that is not ucsync's: its changes are what incrementals pull.
pub(super) const OUTSIDE: (&str, &str) = ("craft", "craft-demo-1");

pub(super) const OLD_VERSION: &str = "R018x.00.0.822.0";
pub(super) const NEW_VERSION: &str = "R020x.01.0.974.0";

/// One demo CM: its name, its stations, and whether it keeps its
/// translations on disk (only the one that is upgraded needs to).
struct Spec {
    name: &'static str,
    stations: usize,
    kept: bool,
}

const SPECS: [Spec; 3] = [
    Spec {
        name: "cm-east",
        stations: 300,
        kept: false,
    },
    Spec {
        name: "cm-west",
        stations: 1500,
        kept: true,
    },
    Spec {
        name: "cm-lab",
        stations: 40,
        kept: false,
    },
];

/// The running emulated CMs; their host keys and saved translations live
/// in `dir`, so that a restarted CM keeps its identity (the key ucsync
/// pinned) and, when upgraded, its data.
pub(super) struct Cms {
    dir: PathBuf,
    running: BTreeMap<&'static str, CmEmulator>,
}

impl Cms {
    pub(super) async fn start(dir: &Path) -> Result<Cms> {
        std::fs::create_dir_all(dir)?;
        let mut cms = Cms {
            dir: dir.to_path_buf(),
            running: BTreeMap::new(),
        };
        for spec in &SPECS {
            let emu = CmEmulator::start(
                cms.settings(spec, OLD_VERSION),
                TcpListener::bind("127.0.0.1:0").await?,
            )
            .await?;
            cms.running.insert(spec.name, emu);
        }
        Ok(cms)
    }

    fn settings(&self, spec: &Spec, version: &str) -> CmSettings {
        CmSettings {
            name: spec.name.into(),
            host_key: Some(self.dir.join(format!("{}.host_key", spec.name))),
            logins: vec![
                (OWN.0.into(), OWN.1.into()),
                (OUTSIDE.0.into(), OUTSIDE.1.into()),
            ],
            counts: [("station".to_string(), spec.stations)].into(),
            state_file: spec
                .kept
                .then(|| self.dir.join(format!("{}.translations.json", spec.name))),
            version: version.into(),
            ..CmSettings::default()
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&'static str, &CmEmulator)> {
        self.running.iter().map(|(n, e)| (*n, e))
    }

    pub(super) fn get(&self, name: &str) -> Result<&CmEmulator> {
        self.running
            .get(name)
            .with_context(|| format!("{name} is not running"))
    }

    /// The objects the CM holds now, of every type.
    pub(super) fn objects(&self, name: &str) -> Result<usize> {
        Ok(self.get(name)?.cm().counts().values().sum())
    }

    /// Saves the CM's translations and starts it again on the same port
    /// with a newer software version.
    pub(super) async fn upgrade(&mut self, name: &'static str) -> Result<()> {
        sat(self.get(name)?, OUTSIDE)
            .await?
            .command("save translation")
            .await?;
        let spec = spec(name)?;
        let settings = self.settings(spec, NEW_VERSION);
        self.restart(name, settings).await
    }

    /// Starts the CM again on the same port with no translations at all.
    pub(super) async fn wipe(&mut self, name: &'static str) -> Result<()> {
        let spec = spec(name)?;
        let settings = CmSettings {
            profile: "empty".into(),
            counts: BTreeMap::new(),
            state_file: None,
            ..self.settings(spec, OLD_VERSION)
        };
        self.restart(name, settings).await
    }

    async fn restart(&mut self, name: &'static str, settings: CmSettings) -> Result<()> {
        let old = self
            .running
            .remove(name)
            .with_context(|| format!("{name} is not running"))?;
        let port = old.addr().port();
        old.shutdown().await?;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on port {port} again for {name}"))?;
        self.running
            .insert(name, CmEmulator::start(settings, listener).await?);
        Ok(())
    }

    pub(super) async fn shutdown(self) {
        for (name, emu) in self.running {
            if let Err(e) = emu.shutdown().await {
                tracing::warn!(cm = name, error = %e, "the emulated CM did not stop cleanly");
            }
        }
    }
}

fn spec(name: &str) -> Result<&'static Spec> {
    SPECS
        .iter()
        .find(|s| s.name == name)
        .with_context(|| format!("no demo CM is called {name}"))
}

/// A SAT session on the CM under `login`, outside ucsync.
pub(super) async fn sat(emu: &CmEmulator, login: (&str, &str)) -> Result<SatClient> {
    let mut c = SatConfig::new(
        "127.0.0.1",
        emu.addr().port(),
        login.0,
        Password::new(login.1),
    );
    c.sessions = 1;
    Ok(SatClient::connect(c).await?)
}

/// `change station EXT` with a new name.
pub(super) fn rename(ext: &str, name: &str) -> Result<Request> {
    Ok(Request::write(
        &format!("change station {ext}"),
        &[(station::NAME, Value::Set(name.into()))],
    )?)
}

/// One field of one station, as the CM shows it over SAT.
pub(super) async fn station_field(sat: &SatClient, ext: &str, field: FieldId) -> Result<String> {
    let resp = sat
        .run(&Request::select(
            &format!("display station {ext}"),
            &[field],
        )?)
        .await?;
    if let Some(e) = resp.failure() {
        anyhow::bail!("display station {ext}: {e}");
    }
    resp.records
        .first()
        .and_then(|r| r.get(field))
        .map(str::to_string)
        .with_context(|| format!("display station {ext} showed no field {field}"))
}
